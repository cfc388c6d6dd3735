import pg from 'pg';

/**
 * A pg Client that runs every statement with parameters as a named (prepared) statement, so that
 * PostgreSQL parses and plans it once per connection instead of at every call. Parsing and
 * planning were half of the database's CPU in a sign-in (docs/benchmarks.md).
 *
 * Bounded, because a connection keeps each statement it prepared until it closes: a name is
 * given to the first `maxNames` distinct texts the pool sees, and each connection prepares at
 * most `maxPerConnection` of them; other statements run unnamed, as before. Statements without
 * parameters (migration scripts, BEGIN, COMMIT) always run unnamed, in the simple protocol that
 * allows several statements at once.
 */
export function preparingClient(limits: { maxNames: number; maxPerConnection: number }): typeof pg.Client {
  // Per pool, not per module: two pools (two databases in one test) name their own statements.
  const names = new Map<string, string>();
  const nameFor = (text: string): string | undefined => {
    let name = names.get(text);
    if (name === undefined && names.size < limits.maxNames) {
      name = `waxseal_${names.size}`;
      names.set(text, name);
    }
    return name;
  };

  class PreparingClient extends pg.Client {
    readonly prepared = new Set<string>();
  }
  const plainQuery = pg.Client.prototype.query as (this: pg.Client, ...args: unknown[]) => unknown;
  PreparingClient.prototype.query = function (this: PreparingClient, ...args: unknown[]) {
    const [text, values, ...rest] = args;
    if (typeof text === 'string' && Array.isArray(values) && values.length > 0 && rest.every((a) => typeof a === 'function')) {
      const name = nameFor(text);
      if (name !== undefined && (this.prepared.has(name) || this.prepared.size < limits.maxPerConnection)) {
        this.prepared.add(name);
        return plainQuery.call(this, { name, text, values }, ...rest);
      }
    }
    return plainQuery.apply(this, args);
  } as typeof pg.Client.prototype.query;
  return PreparingClient;
}
