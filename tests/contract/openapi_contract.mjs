// The OpenAPI contract test: reads /openapi.json from a running server and calls every
// operation it documents, built from the document alone (path, query and header parameters
// and bodies from their examples), then checks each answer against the document: a documented
// status (not just `default`), a documented media type, and a body valid for its schema (ajv).
// It also calls each operation that has required header parameters without them and expects a
// documented 400 with a google.rpc.BadRequest. Prints one line per answer; exits 1 on any
// failure.
//
//   node tests/contract/openapi_contract.mjs http://127.0.0.1:8080 [--token TOKEN] [--document FILE]
//
// --document: check the server against this document instead of its own (the tests give it a
// doctored one, to see the checker fail).
//
// Ours, not dredd: dredd is unmaintained (last release 2021), cannot read a stream, and checks
// bodies only against examples; this needs no more than the document and ajv.
import Ajv from 'ajv';
import addFormats from 'ajv-formats';

const args = process.argv.slice(2);
const base = args[0];
const tokenAt = args.indexOf('--token');
const token = tokenAt >= 0 ? args[tokenAt + 1] : '';
const documentAt = args.indexOf('--document');
const documentFile = documentAt >= 0 ? args[documentAt + 1] : '';
if (!base) {
  console.error('usage: openapi_contract.mjs BASE_URL [--token TOKEN]');
  process.exit(2);
}

const STREAM_WAIT_MS = 5000;  // a stream's first record must come within this
const CALL_TIMEOUT_MS = 30000;

const failures = [];
let answers = 0;
const fail = (what, why) => {
  failures.push(`${what}: ${why}`);
  console.log(`FAIL ${what}: ${why}`);
};

const document = documentFile
  ? JSON.parse(await import('node:fs/promises').then((fs) => fs.readFile(documentFile, 'utf8')))
  : await (await fetch(new URL('/openapi.json', base), {signal: AbortSignal.timeout(CALL_TIMEOUT_MS)})).json();
const serverUrl = new URL(document.servers?.[0]?.url ?? '/', base);

const ajv = new Ajv({strict: false, allErrors: true});
addFormats(ajv);
ajv.addFormat('uint64', true);
ajv.addSchema(document, 'openapi');
const pointer = (parts) =>
  'openapi#/' + parts.map((p) => String(p).replaceAll('~', '~0').replaceAll('/', '~1')).join('/');
const validator = (parts) => ajv.compile({$ref: pointer(parts)});

// Writes without path variables first (they create what the reads name), then reads, then
// writes on a named resource (replay, retire), each group in the document's order.
const operations = [];
for (const [path, item] of Object.entries(document.paths)) {
  for (const [method, operation] of Object.entries(item)) {
    const group = method === 'get' ? 1 : path.includes('{') ? 2 : 0;
    operations.push({path, method, operation, group});
  }
}
operations.sort((a, b) => a.group - b.group);

function exampleOf(parameter) {
  return parameter.example ?? parameter.schema?.example;
}

// The request an operation's examples make; `withoutHeaders` leaves the required headers out.
function buildRequest({path, method, operation}, withoutHeaders = false) {
  let target = path;
  const query = new URLSearchParams();
  const headers = {};
  const missing = [];
  for (const parameter of operation.parameters ?? []) {
    const example = exampleOf(parameter);
    if (example === undefined) {
      if (parameter.required) missing.push(`${parameter.in} parameter ${parameter.name}`);
      continue;
    }
    if (parameter.in === 'path') {
      target = target.replace(`{${parameter.name}}`, encodeURIComponent(String(example)));
    } else if (parameter.in === 'query') {
      for (const value of Array.isArray(example) ? example : [example]) {
        query.append(parameter.name, String(value));
      }
    } else if (parameter.in === 'header') {
      if (!(withoutHeaders && parameter.required)) headers[parameter.name] = String(example);
    }
  }
  let body;
  const content = operation.requestBody?.content?.['application/json'];
  if (content) {
    if (content.example === undefined) missing.push('request body example');
    body = JSON.stringify(content.example ?? {});
    headers['Content-Type'] = 'application/json';
  }
  if (token && operation.security?.length) headers.Authorization = `Bearer ${token}`;
  const url = new URL(target.replace(/^\//, ''), serverUrl);
  url.search = query.toString();
  return {url, init: {method: method.toUpperCase(), headers, body}, missing};
}

// The first record of a stream: an ndjson line, or an SSE event's data.
async function firstRecord(response, mediaType) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const deadline = Date.now() + STREAM_WAIT_MS;
  while (Date.now() < deadline) {
    const timer = new Promise((resolve) => setTimeout(() => resolve({timeout: true}), 250));
    const chunk = await Promise.race([reader.read(), timer]);
    if (chunk.timeout) continue;
    if (chunk.done) break;
    text += decoder.decode(chunk.value, {stream: true});
    if (mediaType === 'application/x-ndjson' && text.includes('\n')) {
      reader.cancel().catch(() => {});
      return {record: text.slice(0, text.indexOf('\n'))};
    }
    if (mediaType === 'text/event-stream' && text.includes('\n\n')) {
      reader.cancel().catch(() => {});
      const event = text.slice(0, text.indexOf('\n\n'));
      const data = event.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim());
      const name = event.split('\n').find((l) => l.startsWith('event:'))?.slice(6).trim();
      return {record: data.join('\n'), event: name};
    }
  }
  reader.cancel().catch(() => {});
  return {error: `no record within ${STREAM_WAIT_MS} ms`};
}

// Checks one answer against the operation's documented responses.
async function check(op, request, accept, what) {
  request.init.headers.Accept = accept;
  let response;
  try {
    response = await fetch(request.url, {...request.init, signal: AbortSignal.timeout(CALL_TIMEOUT_MS)});
  } catch (error) {
    fail(what, `no answer: ${error.message}`);
    return null;
  }
  answers++;
  const status = String(response.status);
  const documented = op.operation.responses?.[status];
  if (!documented) {
    fail(what, `status ${status} is not documented (${await response.text().catch(() => '')})`);
    return null;
  }
  const mediaType = (response.headers.get('content-type') ?? '').split(';')[0].trim();
  const content = documented.content ?? {};
  if (Object.keys(content).length === 0) {
    console.log(`ok   ${what} -> ${status}`);
    return {status};
  }
  if (!content[mediaType]) {
    fail(what, `${status} came as "${mediaType}", documented: ${Object.keys(content).join(', ')}`);
    return null;
  }
  for (const header of Object.keys(documented.headers ?? {})) {
    if ((status === '429' || status === '503') && !response.headers.get(header)) {
      fail(what, `${status} without its documented ${header} header`);
    }
  }
  const schemaPath = ['paths', op.path, op.method, 'responses', status, 'content', mediaType, 'schema'];
  let value;
  let validate;
  if (mediaType === 'application/x-ndjson' || mediaType === 'text/event-stream') {
    const {record, event, error} = await firstRecord(response, mediaType);
    if (error) {
      fail(what, error);
      return null;
    }
    try {
      value = JSON.parse(record);
    } catch {
      fail(what, `a record that is not JSON: ${record.slice(0, 200)}`);
      return null;
    }
    if (mediaType === 'text/event-stream') {
      // SSE data is the message itself (or a Status for `event: error`), as the document says.
      const ndjson = ['paths', op.path, op.method, 'responses', status, 'content',
        'application/x-ndjson', 'schema', 'properties', event === 'error' ? 'error' : 'result'];
      validate = validator(ndjson);
    } else {
      validate = validator(schemaPath);
    }
  } else {
    const text = await response.text();
    if (mediaType === 'application/json') {
      try {
        value = JSON.parse(text);
      } catch {
        fail(what, `a body that is not JSON: ${text.slice(0, 200)}`);
        return null;
      }
      validate = validator(schemaPath);
    } else {
      value = text;
      validate = validator(schemaPath);
    }
  }
  if (!validate(value)) {
    fail(what, `${status} ${mediaType} does not match its schema: ${ajv.errorsText(validate.errors)}` +
      ` in ${JSON.stringify(value).slice(0, 300)}`);
    return null;
  }
  console.log(`ok   ${what} -> ${status} ${mediaType}`);
  return {status, value};
}

const never2xx = [];
for (const op of operations) {
  const name = `${op.method.toUpperCase()} ${op.path}`;
  const request = buildRequest(op);
  if (request.missing.length > 0) fail(name, `no example for ${request.missing.join(', ')}`);
  const ok = op.operation.responses?.['200']?.content ?? {'*/*': {}};
  let succeeded = false;
  for (const mediaType of Object.keys(ok)) {
    const result = await check(op, buildRequest(op), mediaType, `${name} (Accept: ${mediaType})`);
    if (result && result.status.startsWith('2')) succeeded = true;
  }
  if (!succeeded) never2xx.push(op.operation.operationId);

  const required = (op.operation.parameters ?? []).filter((p) => p.in === 'header' && p.required);
  if (required.length > 0) {
    const bare = buildRequest(op, true);
    const result = await check(op, bare, 'application/json',
      `${name} without ${required.map((p) => p.name).join(', ')}`);
    if (result && result.status !== '400') {
      fail(name, `without ${required.map((p) => p.name).join(', ')}: ${result.status}, not 400`);
    } else if (result && !JSON.stringify(result.value).includes('google.rpc.BadRequest')) {
      fail(name, 'the 400 has no google.rpc.BadRequest');
    }
  }
}

console.log(`contract: ${operations.length} operations, ${answers} answers checked, ` +
  `${failures.length} failures; no 2xx from: ${never2xx.join(', ') || 'none'}`);
process.exit(failures.length > 0 ? 1 : 0);
