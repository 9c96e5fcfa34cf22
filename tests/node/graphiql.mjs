// Drives GraphiQL at <server>/graphiql in Debian's Chromium, as a person would: types a query into the editor,
// runs it and reads the result pane (signed in through the Headers tab); then starts a subscription and waits
// for events in the result pane while the test acts. Every step prints one JSON line on stdout, so the Rust test
// (tests/e2e/standards.rs) can follow along and act at the right moment:
//
//   {"loaded":true}                    the page rendered its editors
//   {"query":{...}}                    the result pane after running the query
//   {"subscribed":true,"initPayload":…} GraphiQL's websocket got `connection_ack` and sent `subscribe`
//                                      (initPayload: what its `connection_init` carried); the test now
//                                      creates a post titled <post-title> in the space
//   {"added":{...}}                    the result pane once that post arrived; the test now likes it
//   {"liked":{...}}                    the result pane once the new like count arrived
//   {"done":true,"screenshots":[...]}  then exits 0; any failure prints {"error":"..."} and exits 1
//
// The subscription passes `after` (the cursor of the space's newest post), so the post reaches the pane even
// if it is created before the server has registered the subscription: it is then replayed instead of pushed
// live. The like that follows is live for certain, since the subscription has already delivered.
//
//   node graphiql.mjs <base-url> <token> <space-id> <after-cursor> <post-title> [screenshot-dir]
//
// CHROMIUM (default /usr/bin/chromium) names the browser; playwright-core never downloads one.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [base, token, spaceId, after, title, shotDir = os.tmpdir()] = process.argv.slice(2);
if (!base || !token || !spaceId || !after || !title) {
  console.error('usage: node graphiql.mjs <base-url> <token> <space-id> <after-cursor> <post-title> [screenshot-dir]');
  process.exit(2);
}
const origin = new URL(base).origin;
const STEP_MS = 20_000;

const emit = (value) => console.log(JSON.stringify(value));

// The flags this machine needs: no sandbox as root, no GPU, and nothing that reaches out to the network on its
// own (a closed network refuses those connections, slowly and noisily).
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'weco-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1400, height: 900 },
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});

const screenshots = [];
const problems = [];
const page = context.pages()[0] ?? (await context.newPage());

// GraphiQL must work offline: every script, style and socket comes from the server itself.
page.on('request', (request) => {
  const url = request.url();
  if (!url.startsWith(origin) && !url.startsWith('data:') && !url.startsWith('blob:')) {
    problems.push(`request to another origin: ${url}`);
  }
});
page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()} (${request.failure()?.errorText})`));
page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
// The page is served with a Content-Security-Policy: whatever it blocks (a script, a style, a connection) is a
// problem, since GraphiQL needs all it loads.
page.on('console', (message) => {
  if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) {
    problems.push(`blocked by the Content-Security-Policy: ${message.text()}`);
  }
});

// The subscription is live once GraphiQL's socket has been acknowledged and has sent `subscribe`. Every frame
// is kept for the error report: a subscription that shows nothing is otherwise hard to tell apart from one
// whose events never came.
let acked = false;
let subscribeSent = false;
let initPayload = null;
let onSubscribed;
const subscribed = new Promise((resolve) => (onSubscribed = resolve));
const frames = [];
const started = Date.now();
const parse = (payload) => {
  try {
    return JSON.parse(payload);
  } catch {
    return {};
  }
};
page.on('websocket', (socket) => {
  const log = (direction, payload) =>
    frames.push(`${Date.now() - started}ms ${direction} ${String(payload).slice(0, 300)}`);
  socket.on('framereceived', ({ payload }) => {
    log('received', payload);
    if (parse(payload).type === 'connection_ack') acked = true;
    if (acked && subscribeSent) onSubscribed();
  });
  socket.on('framesent', ({ payload }) => {
    log('sent', payload);
    const message = parse(payload);
    if (message.type === 'connection_init') initPayload = message.payload ?? null;
    if (message.type === 'subscribe') subscribeSent = true;
    if (acked && subscribeSent) onSubscribed();
  });
  socket.on('close', () => log('closed', ''));
});

// `promise`, or a clear error after STEP_MS. The timer is cleared either way: a pending one would keep node
// alive for its full length after the last step.
async function within(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), STEP_MS);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function screenshot(name) {
  const file = path.join(shotDir, `weco-graphiql-${name}.png`);
  await page.screenshot({ path: file });
  screenshots.push(file);
}

// Replaces an editor's text the way a person would: click into it, select everything, type. `insertText`
// types like a paste, so CodeMirror's bracket and quote auto-closing does not double what is typed.
//
// GraphiQL takes in an edit after a short debounce (the query's operation name among it); a click on "run"
// before that runs the previous operation ("Unknown operation named …"). The same debounced handler saves the
// editor's text under `storageKey` in localStorage, so seeing it there means GraphiQL has caught up.
async function typeInto(editorSelector, text, storageKey) {
  // GraphiQL keeps the hidden tab's editor in the page (Variables beside Headers): take the one on screen.
  const editor = page.locator(`${editorSelector} .CodeMirror`).filter({ visible: true }).first();
  await editor.click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Backspace');
  await page.keyboard.insertText(text);
  const typed = await editor.evaluate((el) => el.CodeMirror.getValue());
  if (typed !== text) throw new Error(`the editor holds ${JSON.stringify(typed)}, not what was typed`);
  await within(
    page.waitForFunction(([key, value]) => localStorage.getItem(key) === value, [storageKey, text], {
      timeout: STEP_MS,
    }),
    `GraphiQL to take in the edit (${storageKey})`,
  );
}

// The result pane's text once it contains `needle` (it is a CodeMirror: read its document, not only the lines
// it happens to draw).
async function resultContaining(needle) {
  const pane = page.locator('.result-window .CodeMirror').first();
  await within(
    page.waitForFunction(
      (n) => document.querySelector('.result-window .CodeMirror')?.CodeMirror.getValue().includes(n),
      needle,
      { timeout: STEP_MS },
    ),
    `the result pane to show ${needle}`,
  );
  // What is drawn must say it too, not only the editor's model.
  await page.locator('.result-window').getByText(needle, { exact: false }).first().waitFor({ timeout: STEP_MS });
  return JSON.parse(await pane.evaluate((el) => el.CodeMirror.getValue()));
}

async function run() {
  await page.goto(`${base}/graphiql`, { waitUntil: 'load' });
  await page.locator('.graphiql-query-editor .CodeMirror').first().waitFor({ timeout: STEP_MS });
  emit({ loaded: true });

  // Sign in the way the page's welcome text says: the bearer token in the Headers tab.
  await page.getByRole('button', { name: 'Headers' }).or(page.getByRole('tab', { name: 'Headers' })).first().click();
  await typeInto('.graphiql-editor-tool', JSON.stringify({ Authorization: `Bearer ${token}` }), 'graphiql:headers');

  // 1. A query over HTTP; `me` shows the header went with it.
  await typeInto('.graphiql-query-editor', '{ me { handle } space(handle: "all") { handle name } }', 'graphiql:query');
  await page.locator('.graphiql-execute-button').click();
  emit({ query: await resultContaining('"handle": "all"') });
  await screenshot('query');

  // 2. A subscription over the websocket. GraphiQL sends the headers as the `connection_init` payload.
  await typeInto(
    '.graphiql-query-editor',
    [
      `subscription {`,
      `  spaceFeed(spaceId: "${spaceId}", after: "${after}") {`,
      `    __typename`,
      `    ... on PostAdded { post { title creator { handle } } }`,
      `    ... on PostStatsChanged { totalLikes }`,
      `  }`,
      `}`,
    ].join('\n'),
    'graphiql:query',
  );
  await page.locator('.graphiql-execute-button').click();
  await within(subscribed, 'the subscription to start');
  emit({ subscribed: true, initPayload });
  emit({ added: await resultContaining(title) });
  await screenshot('subscription');
  emit({ liked: await resultContaining('"totalLikes": 1') });

  if (problems.length) throw new Error(problems.join('; '));
}

try {
  await run();
  emit({ done: true, screenshots });
} catch (error) {
  await screenshot('failure').catch(() => {});
  emit({ error: String(error?.message ?? error), problems, frames, screenshots });
  process.exitCode = 1;
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
