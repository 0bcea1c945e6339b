/**
 * No module-level mutable state in shared/: what a warm instance keeps between requests belongs to
 * a service instance (shared/service.ts), so two instances in one process (two createHandler
 * calls, two functions, two tests) never share it. Every .ts in shared/ is parsed with the
 * TypeScript compiler, and each top-level declaration that can hold state is listed:
 * - a `let` or `var`;
 * - a `const` holding a new Map, Set, WeakMap, WeakSet or Array whose declared type is not
 *   read-only (ReadonlyMap, ReadonlySet, readonly T[]): a constant table says so in its type;
 * - a `const` holding what a call of a bare function with no arguments returns (`memoryStore()`):
 *   with nothing to build from, such a call is a factory of fresh state. (Schemas and settings are
 *   built from arguments, `v.object({...})`, `secureUrl("NAME")`, and are not listed.)
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");
const SHARED = join(ROOT, "shared");
const STATE_CLASSES = new Set(["Map", "Set", "WeakMap", "WeakSet", "Array"]);
const READ_ONLY_TYPES = new Set(["ReadonlyMap", "ReadonlySet", "ReadonlyArray"]);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** Whether `declaration` is declared with a read-only collection type (seen through aliases). */
function declaredReadOnly(checker: ts.TypeChecker, declaration: ts.VariableDeclaration): boolean {
  if (!declaration.type) return false;
  const type = checker.getTypeFromTypeNode(declaration.type);
  return READ_ONLY_TYPES.has(type.getSymbol()?.getName() ?? "");
}

/** What holds state in `initializer`, or undefined: see the rules at the top of this file. */
function stateIn(checker: ts.TypeChecker, declaration: ts.VariableDeclaration): string | undefined {
  let value = declaration.initializer;
  while (value && (ts.isAsExpression(value) || ts.isSatisfiesExpression(value) || ts.isParenthesizedExpression(value))) {
    value = value.expression;
  }
  if (!value) return undefined;
  if (ts.isNewExpression(value) && ts.isIdentifier(value.expression) && STATE_CLASSES.has(value.expression.text)) {
    return declaredReadOnly(checker, declaration) ? undefined : `new ${value.expression.text}`;
  }
  if (ts.isCallExpression(value) && ts.isIdentifier(value.expression) && value.arguments.length === 0) {
    return `${value.expression.text}()`;
  }
  return undefined;
}

/** Every top-level declaration in `files` that can hold state, as "path:line name (why)". */
function moduleState(files: readonly string[]): string[] {
  const program = ts.createProgram(files, {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    allowImportingTsExtensions: true,
    noEmit: true,
    skipLibCheck: true,
  });
  const checker = program.getTypeChecker();
  const found: string[] = [];
  for (const file of files) {
    const source = program.getSourceFile(file)!;
    for (const statement of source.statements) {
      if (!ts.isVariableStatement(statement)) continue;
      const { flags } = statement.declarationList;
      const binding = flags & ts.NodeFlags.Let ? "let" : flags & (ts.NodeFlags.Const | ts.NodeFlags.Using) ? undefined : "var";
      for (const declaration of statement.declarationList.declarations) {
        const why = binding ?? stateIn(checker, declaration);
        if (!why) continue;
        const line = source.getLineAndCharacterOfPosition(declaration.getStart(source)).line + 1;
        found.push(`${relative(ROOT, file).replaceAll("\\", "/")}:${line} ${declaration.name.getText(source)} (${why})`);
      }
    }
  }
  return found;
}

describe("module-level state in shared/", () => {
  it("is found by the rules above: a let, a var, a new Map, a mutable Set, a factory's state; not constants", () => {
    const dir = mkdtempSync(join(tmpdir(), "module-state-"));
    try {
      const file = join(dir, "sample.ts");
      writeFileSync(
        file,
        [
          "function memoryStore() { return new Map<string, number>(); }",
          "let cached: string | undefined;",
          "var count = 0;",
          "const keys = new Map<string, string>();",
          "const seen = new Set([1, 2]) as Set<number>;",
          "const store = memoryStore();",
          "type Table = ReadonlyMap<string, number>;",
          "const TABLE: Table = new Map();",
          "const STATUSES: ReadonlySet<number> = new Set([204]);",
          "const LIST: readonly string[] = new Array<string>();",
          "const encoder = new TextEncoder();",
          'const LIMIT = Number("3");',
          "const NAMES = Object.keys({ a: 1 });",
          "export function later() { let inner = 0; inner += 1; return inner + count + keys.size + seen.size + store.size; }",
          "export { cached, encoder, LIMIT, LIST, NAMES, STATUSES, TABLE };",
        ].join("\n"),
      );
      const at = (line: number, what: string) => `${relative(ROOT, file).replaceAll("\\", "/")}:${line} ${what}`;
      expect(moduleState([file])).toEqual([
        at(2, "cached (let)"),
        at(3, "count (var)"),
        at(4, "keys (new Map)"),
        at(5, "seen (new Set)"),
        at(6, "store (memoryStore())"),
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("is none: every top-level declaration is a constant, and state lives in a service instance", () => {
    const files = sourceFiles(SHARED);
    expect(files.length).toBeGreaterThan(40);
    expect(moduleState(files)).toEqual([]);
  });
});
