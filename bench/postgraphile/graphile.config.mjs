// PostGraphile v5 over Bazaar's PostgreSQL schema, for the benchmarks: the amber preset, the
// connection string and pool size from the environment, loopback only.
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [
    makePgService({
      connectionString: process.env.DATABASE_URL,
      schemas: ["public"],
      poolConfig: { max: Number(process.env.POOL_SIZE ?? 4) },
    }),
  ],
  grafserv: { host: "127.0.0.1", port: Number(process.env.PORT ?? 5678), graphiql: false },
  grafast: { explain: false },
};

export default preset;
