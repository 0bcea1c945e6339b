import { handle } from "../shared/handle.ts";

// Vercel's Node runtime calls a default export with a `fetch` method for every HTTP method.
export default {
  fetch: (request: Request) => handle(request, process.env),
};
