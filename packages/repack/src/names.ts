/** The shadow table a repack of `tableOid` builds in the tool schema; found by name by later runs and `--cleanup`. */
export function shadowTableName(tableOid: number): string {
  return `table_${tableOid}`;
}
