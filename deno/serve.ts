import { denoHostFacts } from "../shared/hosts/deno.ts";
import { handle } from "../shared/handle.ts";

// `deno task serve` (deno.json) and Deno Deploy serve this default export with `deno serve`.
export default {
  fetch: (request, info) => handle(request, Deno.env.toObject(), denoHostFacts(request, info)),
} satisfies Deno.ServeDefaultExport;
