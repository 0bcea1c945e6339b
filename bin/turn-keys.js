#!/usr/bin/env node
// The turn-keys command: cli/turn-keys.ts as compiled into dist/ when the package is packed, so
// plain node runs it with no TypeScript runner; in a checkout, the source (see cli.js).
import { runCli } from "./cli.js";

await runCli("turn-keys", "turn-keys");
