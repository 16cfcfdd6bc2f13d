import { PgToolsError } from '@pgtools/core';

/** An error's message, whatever was thrown. */
export const errMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** A `PgToolsError`'s code, for events. */
export const errCode = (err: unknown): string | undefined => (err instanceof PgToolsError ? err.code : undefined);

export { debugFailure, debugFailureOr } from '@pgtools/core';
