// Runs the shell examples of Markdown files against a running server and checks each against
// the output the file shows, so no example can rot.
//
//   node tests/docs/run_examples.mjs --grpc HOST:PORT --http HOST:PORT FILE.md...
//
// What counts as an example:
// - A ```console block: lines starting with "$ " are commands (a line ending in "\" goes on in
//   the next one, as does a line that ends inside a quoted string); the lines after a command, up to the next "$ " line, are its output. A line
//   "..." stands for any number of lines, and "..." inside a line for any text: ids, times.
//   An example with no output lines must print nothing.
// - A ```sh, ```bash or ```shell block must say "norun" after the language (```sh norun): a
//   command that cannot run inside a test (it starts the service, runs the whole suite or a
//   benchmark, installs packages). Any other shell block is an error, so none is left unchecked.
// Commands run with bash, one after another in the file's order (what one creates, the next can
// read), from the repository root with node_modules/.bin on the PATH, and with the service's
// default addresses (localhost:50051 and localhost:8080) pointed at the server under test.
import {spawnSync} from 'node:child_process';
import {readFileSync} from 'node:fs';
import path from 'node:path';

const COMMAND_TIMEOUT_MS = 30000;

const args = process.argv.slice(2);
const option = (name) => {
  const at = args.indexOf(name);
  if (at < 0) return '';
  const [value] = args.splice(at, 2).slice(1);
  return value;
};
const grpc = option('--grpc');
const http = option('--http');
const files = args;
if (!grpc || !http || files.length === 0) {
  console.error('usage: run_examples.mjs --grpc HOST:PORT --http HOST:PORT FILE.md...');
  process.exit(2);
}
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

// The fenced blocks of a Markdown text: {info, lines, line} (line: where the block starts).
function blocksOf(text) {
  const blocks = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = lines[i].match(/^(\s*)```(.*)$/);
    if (!open) continue;
    const indent = open[1].length;
    const body = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]); j++) body.push(lines[j].slice(indent));
    blocks.push({info: open[2].trim(), lines: body, line: i + 1});
    i = j;
  }
  return blocks;
}

// Whether `command` ends inside a quoted string (the command goes on in the next line).
function openQuote(command) {
  let quote = '';
  for (let i = 0; i < command.length; i++) {
    const c = command[i];
    if (quote === "'") {
      if (c === "'") quote = '';
    } else if (c === '\\') {
      i++;
    } else if (quote === '"') {
      if (c === '"') quote = '';
    } else if (c === "'" || c === '"') {
      quote = c;
    }
  }
  return quote !== '';
}

// A console block's examples: {command, expected, line}.
function examplesOf(block) {
  const examples = [];
  let current = null;
  for (let i = 0; i < block.lines.length; i++) {
    const line = block.lines[i];
    if (line.startsWith('$ ')) {
      let command = line.slice(2);
      const at = block.line + 1 + i;
      while ((command.endsWith('\\') || openQuote(command)) && i + 1 < block.lines.length) {
        command += '\n' + block.lines[++i];  // bash reads the backslash-newline
      }
      current = {command, expected: [], line: at};
      examples.push(current);
    } else if (current) {
      current.expected.push(line);
    }
  }
  for (const example of examples) {
    while (example.expected.length && example.expected.at(-1).trim() === '') example.expected.pop();
  }
  return examples;
}

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const lineMatcher = (expected) =>
  new RegExp('^' + expected.split('...').map(escape).join('.*') + '$');

// Whether `actual` lines match `expected` lines ("..." alone: any number of lines).
function matches(expected, actual) {
  const memo = new Map();
  const go = (e, a) => {
    const key = e * 100000 + a;
    if (memo.has(key)) return memo.get(key);
    let result;
    if (e === expected.length) {
      result = a === actual.length;
    } else if (expected[e].trim() === '...') {
      result = false;
      for (let k = a; k <= actual.length && !result; k++) result = go(e + 1, k);
    } else {
      result = a < actual.length && lineMatcher(expected[e]).test(actual[a]) && go(e + 1, a + 1);
    }
    memo.set(key, result);
    return result;
  };
  return go(0, 0);
}

const pointed = (command) =>
  command
    .replaceAll('localhost:50051', grpc)
    .replaceAll('127.0.0.1:50051', grpc)
    .replaceAll('localhost:8080', http)
    .replaceAll('127.0.0.1:8080', http);

let failures = 0;
let commands = 0;
let blocksRun = 0;
for (const file of files) {
  const name = path.relative(root, path.resolve(file));
  for (const block of blocksOf(readFileSync(file, 'utf8'))) {
    const [language, ...flags] = block.info.split(/\s+/);
    if (['sh', 'bash', 'shell'].includes(language)) {
      if (!flags.includes('norun')) {
        failures++;
        console.log(`FAIL ${name}:${block.line}: a ${language} block that is not run: make it a ` +
          `console block with its output, or mark it "${language} norun" if it cannot run in a test`);
      }
      continue;
    }
    if (language !== 'console') continue;
    blocksRun++;
    const examples = examplesOf(block);
    if (examples.length === 0) {
      failures++;
      console.log(`FAIL ${name}:${block.line}: a console block without a "$ " command`);
    }
    for (const example of examples) {
      commands++;
      const run = spawnSync('bash', ['-c', pointed(example.command)], {
        cwd: root,
        encoding: 'utf8',
        timeout: COMMAND_TIMEOUT_MS,
        env: {...process.env, PATH: `${root}/node_modules/.bin:${process.env.PATH}`},
      });
      const output = ((run.stdout ?? '') + (run.stderr ?? '')).replace(/\s+$/, '');
      const actual = output === '' ? [] : output.split('\n').map((l) => l.replace(/\s+$/, ''));
      const expected = example.expected.map((l) => l.replace(/\s+$/, ''));
      if (run.error || !matches(expected, actual)) {
        failures++;
        console.log(`FAIL ${name}:${example.line}: $ ${example.command}`);
        if (run.error) console.log(`  ${run.error.message}`);
        console.log('  expected:\n' + expected.map((l) => `    ${l}`).join('\n'));
        const shown = actual.length > 40 ? [...actual.slice(0, 40), `... (${actual.length} lines)`] : actual;
        console.log('  got:\n' + shown.map((l) => `    ${l}`).join('\n'));
      } else {
        console.log(`ok   ${name}:${example.line}: $ ${example.command.split('\n')[0]}`);
      }
    }
  }
}
console.log(`examples: ${commands} commands in ${blocksRun} blocks of ${files.length} files, ` +
  `${failures} failures`);
process.exit(failures > 0 ? 1 : 0);
