/** Errors the entry reports as one clear line (no stack): the user can act on the message. */

/** A command was called with arguments it cannot take. Exit code 2. */
export class UsageError extends Error {}

/** A case failed the correctness gate, so it was not measured (docs/design.md §7). Exit code 3. */
export class RefusedError extends Error {}
