import { refuse, type Cursor } from './alter-tokens.js';

/** What a foreign key does to the referencing rows when the referenced row is deleted or its key updated. */
export type ForeignKeyAction = 'NO ACTION' | 'RESTRICT' | 'CASCADE' | 'SET NULL' | 'SET DEFAULT';

/**
 * `ADD [CONSTRAINT name] CHECK (expr) | UNIQUE (cols) | FOREIGN KEY (cols) REFERENCES t [(cols)] [ON DELETE a] [ON UPDATE a]`
 * as data. `name` is undefined when the server's default name is to be used (worked out in
 * alter-names.ts); `expression` is the user's SQL text, lexically checked as USING and DEFAULT are.
 */
export type AlterConstraintAction =
  | { kind: 'add-check'; name: string | undefined; expression: string; text: string }
  | { kind: 'add-unique'; name: string | undefined; columns: string[]; text: string }
  | {
      kind: 'add-foreign-key';
      name: string | undefined;
      columns: string[];
      /** The referenced table as written: schema undefined when unqualified (then the altered table's schema, alter-constraint-probe.ts). */
      references: { schema: string | undefined; name: string };
      /** Undefined: the referenced table's primary key. */
      referencedColumns: string[] | undefined;
      onDelete: ForeignKeyAction | undefined;
      onUpdate: ForeignKeyAction | undefined;
      text: string;
    };

/** Constraint clauses this increment does not carry out, with why. */
const NOT_YET: Record<string, string> = {
  primary: 'ADD PRIMARY KEY is not supported',
  exclude: 'ADD EXCLUDE is not supported',
  not: 'NOT VALID and NOT DEFERRABLE are not accepted: the constraint is validated before the swap',
  no: 'NO INHERIT is not supported',
  deferrable: 'DEFERRABLE constraints are not supported yet',
  initially: 'DEFERRABLE constraints are not supported yet',
  match: 'MATCH is not supported (MATCH SIMPLE, the default, is used)',
  include: 'INCLUDE is not supported yet',
  nulls: 'NULLS [NOT] DISTINCT is not supported yet',
  with: 'WITH (storage parameters) is not supported',
  using: 'USING INDEX is not supported',
};

const unexpected = (c: Cursor, after: string): Error => {
  const word = c.peek()?.value ?? '';
  return refuse(c.text, NOT_YET[word] ?? `unexpected ${JSON.stringify(word)} after ${after}`);
};

/** `( a, "B" )`: one or more column names. */
function columnList(c: Cursor, what: string): string[] {
  if (!c.acceptOp('(')) throw refuse(c.text, `${what} needs a parenthesized column list`);
  const columns: string[] = [];
  do columns.push(c.identifier(`a column name in the ${what} column list`));
  while (c.acceptOp(','));
  if (!c.acceptOp(')')) throw refuse(c.text, `expected ")" after the ${what} column list`);
  const twice = columns.find((x, i) => columns.indexOf(x) !== i);
  if (twice !== undefined) throw refuse(c.text, `column ${JSON.stringify(twice)} appears twice in the ${what} column list`);
  return columns;
}

function referentialAction(c: Cursor, on: string): ForeignKeyAction {
  if (c.accept('cascade')) return 'CASCADE';
  if (c.accept('restrict')) return 'RESTRICT';
  if (c.accept('no')) {
    c.expect('action', `expected NO ACTION after ON ${on}`);
    return 'NO ACTION';
  }
  if (c.accept('set')) {
    const action: ForeignKeyAction = c.accept('null') ? 'SET NULL' : c.accept('default') ? 'SET DEFAULT' : 'NO ACTION';
    if (action === 'NO ACTION') throw refuse(c.text, `expected SET NULL or SET DEFAULT after ON ${on}`);
    if (c.peek()?.kind === 'op' && c.peek()?.value === '(') throw refuse(c.text, `a column list after ON ${on} ${action} is not supported yet`);
    return action;
  }
  throw refuse(c.text, `expected NO ACTION, RESTRICT, CASCADE, SET NULL or SET DEFAULT after ON ${on}`);
}

/**
 * The rest of an `ADD` action that adds a table constraint (the cursor is past `ADD`), or undefined
 * when the action adds a column. Refuses the constraint kinds and clauses not supported yet.
 */
export function parseAddConstraint(c: Cursor): AlterConstraintAction | undefined {
  const { text } = c;
  let name: string | undefined;
  if (c.accept('constraint')) name = c.identifier('a constraint name after CONSTRAINT');
  else if (!['check', 'unique', 'foreign', 'primary', 'exclude'].some((w) => c.isWord(w))) return undefined;
  if (c.accept('check')) {
    if (!c.acceptOp('(')) throw refuse(text, 'CHECK needs a parenthesized expression');
    // The matching ")" is the first one at the depth the expression started at.
    const expression = c.until((cur) => cur.peek()?.kind === 'op' && cur.peek()?.value === ')');
    if (expression === '') throw refuse(text, 'CHECK needs an expression');
    c.acceptOp(')');
    if (!c.done()) throw unexpected(c, 'the CHECK expression');
    return { kind: 'add-check', name, expression, text };
  }
  if (c.accept('unique')) {
    const columns = columnList(c, 'UNIQUE');
    if (!c.done()) throw unexpected(c, 'the UNIQUE column list');
    return { kind: 'add-unique', name, columns, text };
  }
  if (c.accept('foreign')) {
    c.expect('key', 'expected KEY after FOREIGN');
    const columns = columnList(c, 'FOREIGN KEY');
    c.expect('references', 'expected REFERENCES after the FOREIGN KEY column list');
    const first = c.identifier('the referenced table after REFERENCES');
    const references = c.acceptOp('.') ? { schema: first, name: c.identifier('a table name after the schema') } : { schema: undefined, name: first };
    const referencedColumns = c.peek()?.kind === 'op' && c.peek()?.value === '(' ? columnList(c, 'REFERENCES') : undefined;
    if (referencedColumns && referencedColumns.length !== columns.length) {
      throw refuse(text, `${columns.length} referencing column(s) but ${referencedColumns.length} referenced`);
    }
    let onDelete: ForeignKeyAction | undefined;
    let onUpdate: ForeignKeyAction | undefined;
    while (c.accept('on')) {
      if (c.accept('delete') && onDelete === undefined) onDelete = referentialAction(c, 'DELETE');
      else if (c.accept('update') && onUpdate === undefined) onUpdate = referentialAction(c, 'UPDATE');
      else throw refuse(text, 'expected ON DELETE or ON UPDATE, each at most once');
    }
    if (!c.done()) throw unexpected(c, 'the REFERENCES clause');
    return { kind: 'add-foreign-key', name, columns, references, referencedColumns, onDelete, onUpdate, text };
  }
  throw unexpected(c, name === undefined ? 'ADD' : 'the constraint name');
}
