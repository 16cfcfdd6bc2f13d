import type pg from 'pg';

/** Connections the run works with; `connect` hands out dedicated clients. */
export interface ConnectionSource {
  connect(): Promise<pg.PoolClient | pg.Client>;
  release(client: pg.PoolClient | pg.Client, destroy?: boolean): Promise<void>;
  /** False when another connection would have to wait (a full pool): optional extras are then skipped. */
  spare?(): boolean;
  /** True when the connections are the run's own (not the caller's pool): side sessions such as the DDL guard may come from it too. */
  ownConnections?: boolean;
}
