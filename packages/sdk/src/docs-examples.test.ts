import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';

// Every ```ts block of docs/*.md, and every TSDoc @example of the SDK's front doors
// (FRONT_DOOR_SOURCES), is a complete example a user could paste into an ES module of their own:
// it is type-checked here, as it stands, under the repository's compiler options (tsconfig.json:
// strict, noUncheckedIndexedAccess, NodeNext), with `@kubectl-dbaas/sdk` resolved to
// packages/sdk/src/index.ts by the same `paths` mapping `npm run typecheck` uses. One program holds
// every block, each as its own in-memory module; nothing is written to disk.

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const DOCS = path.join(ROOT, 'docs');
/** Where the blocks live in the program: files that do not exist on disk, under the repository
 * (so its package.json makes them ES modules and node_modules is found as for real files). */
const VIRTUAL_DIR = path.join(ROOT, 'docs', '.compiled-examples');

/**
 * The sources whose TSDoc examples are held to the docs' standard: the front doors a program
 * imports first. (The other exports' examples are fragments that assume names of their context.)
 */
const FRONT_DOOR_SOURCES = [
  'packages/sdk/src/wal/inspector.ts',
  'packages/sdk/src/manifests/manifest-builder.ts',
  'packages/sdk/src/snapshot/snapshot-client.ts',
  'packages/sdk/src/restore/restore-client.ts',
];

/** One fenced ```ts block of a markdown file or of a TSDoc comment. */
interface CodeBlock {
  /** The file, relative to the repository root (`docs/sdk.md`, `packages/sdk/src/wal/inspector.ts`). */
  doc: string;
  /** 1-based line of the opening fence. */
  line: number;
  code: string;
  /** The in-memory module the block is compiled as. */
  fileName: string;
}

/** The ```ts / ```typescript blocks of a markdown text, with the line of each opening fence. */
function extractTsBlocks(doc: string, markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = markdown.split(/\r?\n/);
  let open: { line: number; fence: string; ts: boolean; body: string[] } | undefined;
  for (const [index, text] of lines.entries()) {
    if (open) {
      if (text.trim() === open.fence) {
        if (open.ts) {
          const fileName = path.join(VIRTUAL_DIR, `${doc.replaceAll(/[^A-Za-z0-9]+/g, '-')}-L${open.line}.ts`);
          blocks.push({ doc, line: open.line, code: `${open.body.join('\n')}\n`, fileName });
        }
        open = undefined;
      } else {
        open.body.push(text);
      }
      continue;
    }
    const fence = /^\s*(`{3,}|~{3,})\s*([\w-]*)/.exec(text);
    if (fence) open = { line: index + 1, fence: fence[1]!, ts: /^(ts|typescript)$/i.test(fence[2]!), body: [] };
  }
  if (open?.ts) throw new Error(`${doc}:${open.line}: the \`\`\`ts block is never closed`);
  return blocks;
}

/**
 * The ```ts blocks of the TSDoc comments of a source file (each line's leading ` * ` removed),
 * as markdown blocks are read, with the line of each opening fence in the source.
 */
function extractTsDocBlocks(doc: string, source: string): CodeBlock[] {
  const lines = source.split(/\r?\n/).map((line) => {
    const inComment = /^\s*\* ?(.*)$/.exec(line);
    // A line that is not a comment line ends any block: it cannot be inside one.
    return inComment ? inComment[1]! : '\u0000';
  });
  return extractTsBlocks(doc, lines.join('\n'));
}

/** The repository's compiler options (tsconfig.json, which extends tsconfig.base.json). */
function repositoryCompilerOptions(): ts.CompilerOptions {
  const configPath = path.join(ROOT, 'tsconfig.json');
  const read = ts.readConfigFile(configPath, ts.sys.readFile.bind(ts.sys));
  if (read.error) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, ROOT, undefined, configPath);
  if (parsed.errors.length > 0) throw new Error(parsed.errors.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('\n'));
  // A block declares its own names: compile each as a module even if it had no import, so two
  // blocks that both say `const client` do not collide in a shared global scope.
  return { ...parsed.options, noEmit: true, moduleDetection: ts.ModuleDetectionKind.Force };
}

/** A problem in one block, located in the markdown file. */
interface BlockProblem {
  block: CodeBlock;
  /** `docs/sdk.md:57:41 (```ts block at line 53) TS2304: Cannot find name 'host'.` */
  message: string;
}

/** Type-checks every block in one program; returns the problems of each block's file. */
function compileBlocks(blocks: readonly CodeBlock[]): Map<CodeBlock, BlockProblem[]> {
  const options = repositoryCompilerOptions();
  const byFile = new Map(blocks.map((block) => [path.normalize(block.fileName), block]));
  const host = ts.createCompilerHost(options, true);
  const { fileExists, readFile, getSourceFile } = host;
  host.fileExists = (fileName) => byFile.has(path.normalize(fileName)) || fileExists.call(host, fileName);
  host.readFile = (fileName) => byFile.get(path.normalize(fileName))?.code ?? readFile.call(host, fileName);
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    const block = byFile.get(path.normalize(fileName));
    if (block) return ts.createSourceFile(fileName, block.code, languageVersion, true);
    return getSourceFile.call(host, fileName, languageVersion, onError, shouldCreate);
  };
  host.getCurrentDirectory = () => ROOT;

  const program = ts.createProgram({ rootNames: blocks.map((block) => block.fileName), options, host });
  const global = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()];
  if (global.length > 0) {
    throw new Error(`compiler options: ${global.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('\n')}`);
  }
  const problems = new Map<CodeBlock, BlockProblem[]>();
  for (const block of blocks) {
    const source = program.getSourceFile(block.fileName);
    if (!source) throw new Error(`${block.doc}:${block.line}: the block's module is not in the program`);
    const diagnostics = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)];
    problems.set(
      block,
      diagnostics.map((diagnostic) => {
        const { line, character } = source.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
        // The block's first line is the line after the fence.
        const where = `${block.doc}:${block.line + 1 + line}:${character + 1}`;
        const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n  ');
        return { block, message: `${where} (\`\`\`ts block at line ${block.line}) TS${diagnostic.code}: ${text}` };
      }),
    );
  }
  return problems;
}

const docFiles = readdirSync(DOCS)
  .filter((name) => name.endsWith('.md'))
  .sort();
const blocks = [
  ...docFiles.flatMap((name) => extractTsBlocks(`docs/${name}`, readFileSync(path.join(DOCS, name), 'utf8'))),
  ...FRONT_DOOR_SOURCES.flatMap((file) => extractTsDocBlocks(file, readFileSync(path.join(ROOT, file), 'utf8'))),
];

// A block that must not compile, checked in the same program: proves a broken example fails
// this test, located at the right markdown line.
const SELF_CHECK_DOC = 'docs/self-check.md';
const selfCheck = extractTsBlocks(
  SELF_CHECK_DOC,
  ['# not a real document', '', '```ts', "import { parseLsn } from '@kubectl-dbaas/sdk';", "const lsn: string = parseLsn('0/2000510');", '```'].join('\n'),
);

let problems: Map<CodeBlock, BlockProblem[]>;
beforeAll(() => {
  problems = compileBlocks([...blocks, ...selfCheck]);
}, 120_000);

describe("TypeScript examples in docs/ and in the front doors' TSDoc", () => {
  it("finds the SDK guide's examples", () => {
    expect(blocks.filter((block) => block.doc === 'docs/sdk.md').length).toBeGreaterThanOrEqual(8);
  });

  it('finds an example on every method of each front door', () => {
    for (const file of FRONT_DOOR_SOURCES) expect(blocks.filter((block) => block.doc === file).length, file).toBeGreaterThanOrEqual(7);
  });

  it('reports a broken example with its file, line and diagnostic', () => {
    const [block] = selfCheck;
    expect(block).toBeDefined();
    const messages = problems.get(block!)!.map((problem) => problem.message);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(/^docs\/self-check\.md:5:7 \(```ts block at line 3\) TS2322: Type 'bigint' is not assignable to type 'string'/);
  });

  it.each(blocks.map((block) => [`${block.doc}:${block.line}`, block] as const))('%s compiles', (_name, block) => {
    const messages = problems.get(block)!.map((problem) => problem.message);
    expect(messages, `${block.doc}: the \`\`\`ts block at line ${block.line} does not compile:\n${messages.join('\n')}`).toEqual([]);
  });
});
