import type { Logger } from '@pgtools/core';

/** A table or index by schema and name, exactly as stored in the catalog (not quoted). */
export interface RelationName {
  schema: string;
  name: string;
}

/** An index by name or by OID. */
export type IndexRef = RelationName | number;

/** An index of the original table and its copy on the shadow table. */
export interface IndexPair {
  original: IndexRef;
  shadow: IndexRef;
}

/** What the swap functions report while they work; apps decide how to show it. */
export type SwapEvent =
  | { type: 'swap_validated'; mode: 'catalog' | 'rename'; table: RelationName; shadow: RelationName; indexes: number }
  | { type: 'catalog_swapped'; table: RelationName; shadow: RelationName; indexes: number; toast: 'both' | 'original' | 'shadow' | 'none' }
  | { type: 'rename_step'; step: string; sql: string }
  | { type: 'rename_swapped'; table: RelationName; shadow: RelationName }
  | { type: 'shadow_dropped'; shadow: RelationName };

/** Options every swap function accepts. */
export interface SwapCommonOptions {
  logger?: Logger;
  onEvent?: (event: SwapEvent) => void;
}
