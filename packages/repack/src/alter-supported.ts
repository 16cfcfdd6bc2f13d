/** What this version of `--alter` accepts, for messages. */
export const SUPPORTED_ALTER_ACTIONS =
  'ALTER COLUMN c [SET DATA] TYPE t [USING expr], ALTER COLUMN c SET DEFAULT expr | DROP DEFAULT, ALTER COLUMN c SET NOT NULL | DROP NOT NULL, ' +
  'ADD COLUMN c t [DEFAULT expr | GENERATED ALWAYS AS (expr) STORED|VIRTUAL | GENERATED ALWAYS|BY DEFAULT AS IDENTITY [(options)]] [NOT NULL], DROP COLUMN c, ADD [CONSTRAINT name] CHECK (expr) | UNIQUE (cols) | ' +
  'FOREIGN KEY (cols) REFERENCES t [(cols)] [ON DELETE action] [ON UPDATE action]';
