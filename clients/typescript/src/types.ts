/** The API's shapes, taken from the generated OpenAPI types (src/openapi.ts). */
import type { components } from "./openapi.js";

type Schemas = components["schemas"];

/** One change of one record: `create`, `write` (with `changed_fields`) or `unlink`. */
export type SyncEvent = Schemas["EventOut"];
/** The answer of `POST /api/v2/sync/pull`. */
export type PullAnswer = Schemas["PullOut"];
/** The answer of `GET /api/v2/sync/state`. */
export type DeviceState = Schemas["StateOut"];
/** The answer of `POST /api/v2/sync/reset`. */
export type ResetAnswer = Schemas["ResetOut"];
/** The body of `POST /api/v2/sync/pull` (fields with a server default optional). */
export type PullBody = Omit<Schemas["PullIn"], "limit" | "wait"> &
  Partial<Pick<Schemas["PullIn"], "limit" | "wait">>;
/** One item of a 422 answer's `detail`; the server may add `valid` or `models`. */
export type ValidationErrorItem = Schemas["ValidationErrorItem"] & { [extra: string]: unknown };
