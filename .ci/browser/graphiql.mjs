// Opens Bazaar's GraphiQL in Debian's headless Chromium with every request off this server
// refused, runs the page's first tab (the storefront home query) with its run button, opens a
// dialog, then runs an admin's subscription over the WebSocket with the token typed in the
// Headers tab; fails on any request that tried to leave, any console error or CSP violation, a
// token left in the browser's storage, or a result that does not come.
// Usage: node graphiql.mjs BASE_URL ADMIN_EMAIL ADMIN_PASSWORD SCREENSHOT.png
import { chromium } from "playwright-core";

const [base, email, password, screenshot] = process.argv.slice(2);
const origin = new URL(base).origin;
const timeout = 30_000;
const problems = [];

async function graphql(query, variables, token) {
  const headers = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${origin}/graphql`, {
    method: "POST",
    headers,
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

// Sets a GraphiQL editor's text (CodeMirror 5 under `selector`), as pasting would.
async function setEditor(page, selector, text) {
  await page.locator(`${selector} .CodeMirror`).first().waitFor({ timeout });
  await page.evaluate(
    ([selector, text]) => document.querySelector(`${selector} .CodeMirror`).CodeMirror.setValue(text),
    [selector, text],
  );
}

// Sets an editor's text and waits until the editor shows it (GraphiQL may still be mounting
// the editor of a tab just opened).
async function setEditorUntilShown(page, selector, text) {
  for (const since = Date.now(); ;) {
    await setEditor(page, selector, text);
    await page.waitForTimeout(200);
    const shown = await page.evaluate(
      (selector) => document.querySelector(`${selector} .CodeMirror`)?.CodeMirror.getValue(), selector);
    if (shown === text) return;
    if (Date.now() - since > timeout) throw new Error(`the editor ${selector} never showed ${text}`);
  }
}

// Waits until the result pane holds `text`.
async function responseContains(page, text) {
  const since = Date.now();
  for (;;) {
    const shown = await page.evaluate(() => document.querySelector(".graphiql-response .CodeMirror")?.CodeMirror.getValue() ?? "");
    if (shown.includes(text)) return;
    if (Date.now() - since > timeout) throw new Error(`the result pane never showed ${text}:\n${shown}`);
    await page.waitForTimeout(100);
  }
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium" });
let page;
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (new URL(url).origin === origin) return route.continue();
    problems.push(`request off the server: ${url}`);
    return route.abort("blockedbyclient");
  });
  page = await context.newPage();
  const sockets = [];
  page.on("websocket", (socket) => {
    const frames = [];
    sockets.push({ url: socket.url(), frames });
    socket.on("framesent", (frame) => frames.push(String(frame.payload)));
    socket.on("framereceived", (frame) => frames.push(`received ${String(frame.payload).slice(0, 200)}`));
    socket.on("socketerror", (error) => frames.push(`error ${error}`));
    socket.on("close", () => frames.push("closed"));
  });
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console error: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  await page.addInitScript(() => {
    window.cspViolations = [];
    document.addEventListener("securitypolicyviolation", (event) =>
      window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`),
    );
  });

  // 1. The first tab, as a newcomer finds it: the storefront home query.
  const started = Date.now();
  const answer = await page.goto(`${origin}/graphiql`);
  if (!answer.headers()["content-security-policy"]) problems.push("the page has no CSP");
  await page.locator(".graphiql-execute-button").waitFor({ timeout });
  await page.locator(".graphiql-query-editor").getByText("categories").first().waitFor({ timeout });
  await page.locator(".graphiql-execute-button").click();
  await responseContains(page, '"Home & Kitchen"');
  await responseContains(page, '"currencyCode": "USD"');
  console.log(`query through the UI: answered in ${Date.now() - started} ms from opening the page`);
  await page.screenshot({ path: screenshot });
  console.log(`screenshot: ${screenshot}`);
  // A dialog locks scrolling with a <style> element of its own: the page's nonce must admit it.
  await page.getByRole("button", { name: "Open settings dialog" }).click();
  await page.getByRole("dialog").waitFor({ timeout });
  await page.keyboard.press("Escape");
  await page.getByRole("dialog").waitFor({ state: "detached", timeout });

  // 2. A subscription over the WebSocket, signed in through the Headers tab.
  const login = await graphql(
    "mutation($email: String!, $password: String!) { login(email: $email, password: $password) { session { token } } }",
    { email, password },
  );
  const token = login.login.session.token;
  // The new tab must be the one shown before its editors are filled (else the text lands in
  // the old tab's editor and the run button runs an empty tab).
  const tabsBefore = await page.locator(".graphiql-tab").count();
  await page.getByRole("button", { name: "New tab" }).click();
  for (const since = Date.now(); (await page.locator(".graphiql-tab").count()) <= tabsBefore;) {
    if (Date.now() - since > timeout) throw new Error("GraphiQL opened no new tab");
    await page.waitForTimeout(100);
  }
  const subscription = "subscription { events(types: [PRODUCT_UPDATED]) { cursor node { name subjectId } } }";
  await setEditorUntilShown(page, ".graphiql-query-editor", subscription);
  await page.getByRole("button", { name: "Headers", exact: true }).click();
  await setEditorUntilShown(page, ".graphiql-editor-tool .graphiql-editor:not(.hidden)", JSON.stringify({ Authorization: `Bearer ${token}` }));
  await page.locator(".graphiql-execute-button").click();
  const subscribed = Date.now();
  while (!sockets.some((s) => s.frames.some((f) => f.includes('"type":"subscribe"')))) {
    if (Date.now() - subscribed > timeout) {
      const shown = await page.evaluate(() => document.querySelector(".graphiql-response .CodeMirror")?.CodeMirror.getValue() ?? "");
      throw new Error(`GraphiQL did not subscribe over a WebSocket; sockets: ${JSON.stringify(sockets)}; result pane: ${shown}`);
    }
    await page.waitForTimeout(100);
  }
  const socket = sockets.find((s) => s.frames.some((f) => f.includes('"type":"subscribe"')));
  const expected = origin.replace(/^http/, "ws") + "/graphql";
  if (socket.url !== expected) problems.push(`WebSocket to ${socket.url}, not ${expected}`);
  const init = socket.frames.find((f) => f.includes('"type":"connection_init"')) ?? "";
  if (!init.includes(token)) problems.push("connection_init did not carry the Headers tab's Authorization");
  // The server acknowledges the subscription before it reads the log: give it a moment.
  await page.waitForTimeout(500);
  const products = await graphql("{ products(first: 1) { edges { node { id name } } } }", {}, token);
  const product = products.products.edges[0].node;
  await graphql(
    "mutation($id: ID!, $name: String!) { productUpdate(id: $id, input: { name: $name }) { product { id } } }",
    { id: product.id, name: `${product.name} (renamed in CI)` },
    token,
  );
  await responseContains(page, '"name": "product.updated"');
  console.log(`subscription through the UI: ${socket.url}, the event arrived`);

  const stored = await page.evaluate(() => JSON.stringify({ ...window.localStorage, ...window.sessionStorage }));
  if (stored.includes(token)) problems.push(`the session token was written to the browser's storage: ${stored}`);
  const violations = await page.evaluate(() => window.cspViolations);
  for (const violation of violations) problems.push(`CSP violation: ${violation}`);
} catch (error) {
  problems.push(error.message);
  if (page) await page.screenshot({ path: screenshot }).catch(() => {});
} finally {
  await browser.close();
}

if (problems.length) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log("GraphiQL: offline, no console error, no CSP violation, no token stored");
