#!/usr/bin/env node
// The installed turn-probe: cli/probe.ts as compiled into dist/ when the package is packed,
// so plain node runs it with no TypeScript runner.
import "../dist/cli/probe.js";
