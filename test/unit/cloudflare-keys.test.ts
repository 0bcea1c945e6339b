import { describe, expect, it } from "vitest";
import {
  CloudflareApiError,
  exchange,
  prepareCreateKey,
  prepareDeleteKey,
  prepareGetKey,
  prepareListKeys,
  prepareRenameKey,
  processCreateKey,
  processDeleteKey,
  processGetKey,
  processListKeys,
  processRenameKey,
  type AccountApiConfig,
} from "../../shared/providers/cloudflare/keys.ts";
import { processRevokeCredential } from "../../shared/providers/cloudflare/keys.ts";
import { prepareRevokeCredential, processCloudflareRevoke } from "../../shared/providers/cloudflare/turn.ts";
import { pathSegment } from "../../shared/upstream/path-segment.ts";
import type { UpstreamInit, UpstreamReply } from "../../shared/upstream/upstream.ts";
import { secret } from "../helpers/secrets.ts";
import { thrownBy } from "../helpers/service-error.ts";

const TOKEN = secret("cf-Secret-Token-0a1b2c3d4e5f");
const CONFIG: AccountApiConfig = { accountId: "acc 1", apiToken: TOKEN, apiBase: "http://127.0.0.1:9/client/v4/" };
const KEYS = "http://127.0.0.1:9/client/v4/accounts/acc%201/calls/turn_keys";

const KEY = {
  uid: "2a95132c15732412d22c1476fa83f27a",
  name: "my-turn-key",
  created: "2014-01-02T02:20:00Z",
  modified: "2014-01-02T02:20:00Z",
};
const SECRET = secret("66bcf64aa8907b9f9d90ac17746a77ce394c393b92b3916633dc02846e608ad4");

function reply(status: number, body: unknown): UpstreamReply {
  return { status, headers: new Headers(), body: typeof body === "string" ? body : JSON.stringify(body) };
}

const ok = (result: unknown, status = 200) => reply(status, { success: true, errors: [], messages: [], result });
const failed = (status: number, ...errors: { code: number; message: string }[]) =>
  reply(status, { success: false, errors, messages: [], result: null });

const thrown = (action: () => unknown) => thrownBy(action, CloudflareApiError);

describe("prepare", () => {
  it("list: GET the collection with the bearer token", () => {
    const request = prepareListKeys(CONFIG);
    expect(request.method).toBe("GET");
    expect(request.url).toBe(KEYS);
    expect(request.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(request.body).toBeUndefined();
  });

  it("get and delete address one key, encoded", () => {
    expect(prepareGetKey(CONFIG, "a/b?c").url).toBe(`${KEYS}/a%2Fb%3Fc`);
    const request = prepareDeleteKey(CONFIG, KEY.uid);
    expect(request.method).toBe("DELETE");
    expect(request.url).toBe(`${KEYS}/${KEY.uid}`);
  });

  it("create: POST {name} as JSON", async () => {
    const request = prepareCreateKey(CONFIG, "prod key");
    expect(request.method).toBe("POST");
    expect(request.url).toBe(KEYS);
    expect(request.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(request.body!)).toEqual({ name: "prod key" });
  });

  it("rename: PUT {name} on one key", async () => {
    const request = prepareRenameKey(CONFIG, KEY.uid, "renamed");
    expect(request.method).toBe("PUT");
    expect(request.url).toBe(`${KEYS}/${KEY.uid}`);
    expect(JSON.parse(request.body!)).toEqual({ name: "renamed" });
  });

  it.each(["", ".", ".."])("refuses the path segment %j, which URL parsing would drop", (segment) => {
    expect(() => pathSegment(segment)).toThrow(RangeError);
    expect(() => prepareGetKey(CONFIG, segment)).toThrow(RangeError);
  });

  it.each(["%2e", "%2E%2e", "a/b", "..%2f", "x?y#z", "100%", "a b"])(
    "encodes the path segment %j so that it stays one segment, as it is",
    (segment) => {
      const url = new URL(prepareGetKey(CONFIG, segment).url);
      const last = url.pathname.split("/").at(-1)!;
      expect(url.pathname).toBe(`${new URL(KEYS).pathname}/${last}`);
      expect(decodeURIComponent(last)).toBe(segment);
      expect(url.search).toBe("");
      expect(url.hash).toBe("");
    },
  );
});

describe("process", () => {
  it("list returns the keys and drops a secret the API should not have sent", () => {
    expect(processListKeys(ok([{ ...KEY, key: SECRET }]))).toEqual([KEY]);
  });

  it("list takes a null result as no keys", () => {
    expect(processListKeys(ok(null))).toEqual([]);
  });

  it("get and rename return the key, never its secret", () => {
    expect(processGetKey(ok({ ...KEY, key: SECRET }))).toEqual(KEY);
    expect(processRenameKey(ok(KEY))).toEqual(KEY);
  });

  it("tolerates missing or null optional fields", () => {
    expect(processGetKey(ok({ uid: KEY.uid, name: null }))).toEqual({
      uid: KEY.uid,
      name: undefined,
      created: undefined,
      modified: undefined,
    });
  });

  it("create returns the key with its secret", () => {
    expect(processCreateKey(ok({ ...KEY, key: SECRET }, 201))).toEqual({ ...KEY, key: SECRET });
  });

  it("create without a secret is an invalid response", () => {
    expect(thrown(() => processCreateKey(ok(KEY, 201))).code).toBe("invalid_response");
  });

  it("delete accepts any successful envelope", () => {
    expect(() => processDeleteKey(ok(KEY))).not.toThrow();
    expect(() => processDeleteKey(ok(null))).not.toThrow();
  });

  it.each([401, 403])("HTTP %i is unauthorized and names the Calls Write permission", (status) => {
    const error = thrown(() => processListKeys(failed(status, { code: 10000, message: "Authentication error" })));
    expect(error.code).toBe("unauthorized");
    expect(error.status).toBe(status);
    expect(error.message).toContain('"Calls Write"');
    expect(error.message).toContain("Authentication error [10000]");
  });

  it("HTTP 404 on a key is an unknown key id", () => {
    const error = thrown(() => processGetKey(failed(404, { code: 1404, message: "not found" })));
    expect(error.code).toBe("not_found");
    expect(error.message).toContain("unknown TURN key id");
  });

  it("HTTP 404 on the collection points at the account and base instead", () => {
    const error = thrown(() => processListKeys(failed(404)));
    expect(error.code).toBe("not_found");
    expect(error.message).toContain("account");
  });

  it("another status is an API error with Cloudflare's messages joined", () => {
    const error = thrown(() => processListKeys(failed(500, { code: 1, message: "one" }, { code: 2, message: "two" })));
    expect(error.code).toBe("api_error");
    expect(error.message).toBe("Cloudflare answered HTTP 500: one [1]; two [2]");
  });

  it("a status without an envelope still is an API error, without echoing the body", () => {
    const error = thrown(() => processListKeys(reply(502, "<html>Bad gateway</html>")));
    expect(error.code).toBe("api_error");
    expect(error.message).toBe("Cloudflare answered HTTP 502");
  });

  it("success: false on a 2xx is an API error", () => {
    const error = thrown(() => processCreateKey(failed(200, { code: 1200, message: "Quota reached" })));
    expect(error.code).toBe("api_error");
    expect(error.message).toContain("Quota reached [1200]");
  });

  it.each([
    ["a body that is not JSON", "{oops", /not JSON/],
    ["no envelope", JSON.stringify([KEY]), /envelope/],
    ["a result of the wrong shape", JSON.stringify({ success: true, errors: [], messages: [], result: { id: 1 } }), /shape/],
  ])("%s is an invalid response", (_, body, message) => {
    const error = thrown(() => processGetKey(reply(200, body)));
    expect(error.code).toBe("invalid_response");
    expect(error.message).toMatch(message);
  });
});

describe("exchange", () => {
  it("reads the whole reply through the injected fetch", async () => {
    const seen: UpstreamInit[] = [];
    const got = await exchange(async (_url, init) => {
      seen.push(init);
      return new Response('{"success":true}', { status: 201 });
    }, prepareListKeys(CONFIG));
    expect(got.status).toBe(201);
    expect(got.body).toBe('{"success":true}');
    expect(seen[0].signal).toBeInstanceOf(AbortSignal);
    expect(seen[0].headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it("a failed fetch is a network error naming only the origin and the system code", async () => {
    const failing = async () => {
      throw new TypeError("fetch failed", { cause: Object.assign(new Error(`connect to ${KEYS}`), { code: "ECONNREFUSED" }) });
    };
    const error = await exchange(failing, prepareListKeys(CONFIG)).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CloudflareApiError);
    expect((error as CloudflareApiError).code).toBe("network_error");
    expect((error as CloudflareApiError).message).toBe("http://127.0.0.1:9 could not be reached (ECONNREFUSED)");
  });

  it("a fetch that outlives the deadline is a network error", async () => {
    const hanging = (_url: string, { signal }: UpstreamInit) =>
      new Promise<Response>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
    const error = await exchange(hanging, prepareListKeys(CONFIG), 20).catch((caught: unknown) => caught);
    expect((error as CloudflareApiError).code).toBe("network_error");
    expect((error as CloudflareApiError).message).toContain("did not answer within 20 ms");
  });
});

describe("revoke-credential", () => {
  const TURN = { keyId: "key/1", apiToken: TOKEN, apiBase: "http://127.0.0.1:9/v1/" };

  it("POSTs to the revoke path with the TURN key token", () => {
    const request = prepareRevokeCredential(TURN, "user 1");
    expect(request.method).toBe("POST");
    expect(request.url).toBe("http://127.0.0.1:9/v1/turn/keys/key%2F1/credentials/user%201/revoke");
    expect(request.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it.each([200, 204])("HTTP %i means revoked", (status) => {
    expect(() => processRevokeCredential(reply(status, ""))).not.toThrow();
  });

  it.each([
    [401, "unauthorized"],
    [403, "unauthorized"],
    [404, "not_found"],
    [500, "api_error"],
  ])("HTTP %i is %s", (status, code) => {
    const error = thrown(() => processRevokeCredential(failed(status, { code: 1, message: "no" })));
    expect(error.code).toBe(code);
    expect(error.message).not.toContain(TOKEN);
  });
});

describe("one reading of a revoke reply, two renderings", () => {
  // The server answers in ServiceError codes, the CLI in its exit codes; both read the status alike.
  const SERVER_FOR_CLI: Record<string, string> = {
    unauthorized: "upstream_unauthorized",
    not_found: "upstream_error",
    api_error: "upstream_error",
  };

  it.each([200, 201, 204, 299, 300, 400, 401, 403, 404, 409, 429, 500, 502, 503])("HTTP %i", (status) => {
    const answer = failed(status, { code: 1, message: "no" });
    const server = (() => {
      try {
        processCloudflareRevoke(answer);
      } catch (error) {
        return (error as { code: string }).code;
      }
    })();
    const cli = (() => {
      try {
        processRevokeCredential(answer);
      } catch (error) {
        return (error as CloudflareApiError).code;
      }
    })();
    expect(server === undefined, `server ${server}, cli ${cli}`).toBe(cli === undefined);
    // 429 and 503 carry a Retry-After for the server; the CLI reports them as Cloudflare's failure.
    if (cli !== undefined && server !== "upstream_rate_limited" && server !== "upstream_unavailable")
      expect(server).toBe(SERVER_FOR_CLI[cli]);
  });
});
