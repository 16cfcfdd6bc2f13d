import type { FixtureIdType } from './fixture.js';
import type { ContenderName, Scenario } from './options.js';

/** The change both contenders of the alter scenario make: the int → bigint of a primary key about to overflow (issue 19). */
export const ALTER_ACTION = 'ALTER COLUMN id TYPE bigint';

/**
 * The type the fixture's `id` starts with: integer when the scenario widens it.
 *
 * @example
 * ```ts
 * fixtureIdType('alter'); // 'integer'
 * ```
 */
export function fixtureIdType(scenario: Scenario): FixtureIdType {
  return scenario === 'alter' ? 'integer' : 'bigint';
}

/**
 * The type `id` must have after a pass (`format_type` spelling): widened by both alter
 * contenders, unchanged by the repack contenders and by `no-repack`.
 *
 * @example
 * ```ts
 * expectedIdType('alter', 'plain-alter'); // 'bigint'
 * expectedIdType('alter', 'no-repack'); // 'integer'
 * ```
 */
export function expectedIdType(scenario: Scenario, contender: ContenderName): FixtureIdType {
  return scenario === 'alter' && contender !== 'no-repack' ? 'bigint' : fixtureIdType(scenario);
}
