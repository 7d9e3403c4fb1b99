// End-to-end in headless Chromium: starts Bazaar (a fresh SQLite demo shop) and the Vite dev
// server on free loopback ports, then walks a shopper through the storefront: home → category
// (and its pages) → product → add to cart → cart (discount code) → sign up (the link from the
// mail in Bazaar's log) → checkout with the test gateway → order paid → order history → sign
// out and in again; then a guest whose card is declined pays again on the order page.
// Any request to anything but 127.0.0.1 is refused and fails the run. Screenshots go to
// ARTIFACTS_DIR. Bounded by E2E_TIMEOUT_SECONDS; child processes are killed on every exit.
//
//   BAZAAR_BIN=target/debug/bazaar node e2e/checkout.mjs
import { spawn, spawnSync } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const storefront = resolve(here, "..");
const repo = resolve(storefront, "../..");
const target = resolve(repo, process.env.CARGO_TARGET_DIR ?? "target");
const bazaarBin = resolve(process.env.BAZAAR_BIN ?? join(target, "debug/bazaar"));
const artifacts = resolve(process.env.ARTIFACTS_DIR ?? join(target, "ci-artifacts"));
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const timeoutSeconds = Number(process.env.E2E_TIMEOUT_SECONDS ?? 300);

const work = mkdtempSync(join(tmpdir(), "storefront-e2e-"));
const children = [];
const blocked = [];
const pageErrors = [];
let browser;
let bazaarLog = "";
let journeys = 0;
const started = Date.now();

function log(message) {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${message}`);
}

function cleanUp() {
  for (const child of children) {
    // Each child leads its own process group: take its helpers down with it.
    try { process.kill(-child.pid, "SIGKILL"); } catch { /* already gone */ }
  }
  children.length = 0;
  rmSync(work, { recursive: true, force: true });
}
process.on("exit", cleanUp);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => { log(`${signal}: stopping`); process.exit(130); });
const deadline = setTimeout(() => {
  console.error(`FAIL: the end-to-end run took more than ${timeoutSeconds} s`);
  process.exit(1);
}, timeoutSeconds * 1000);
deadline.unref();

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
    server.on("error", reject);
  });
}

function start(name, command, args, env) {
  const out = createWriteStream(join(artifacts, `storefront-${name}.log`));
  const child = spawn(command, args, { env: { ...process.env, ...env }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  const keep = (chunk) => {
    out.write(chunk);
    if (name === "bazaar") bazaarLog += chunk;
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  child.on("exit", (code, signal) => {
    if (children.includes(child)) {
      console.error(`FAIL: ${name} exited early (${signal ?? code}); see ${out.path}`);
      process.exit(1);
    }
  });
  return child;
}

async function waitFor(url, what) {
  for (let i = 0; i < 120; i += 1) {
    try {
      if ((await fetch(url)).ok) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${what} did not answer at ${url}`);
}

async function graphql(url, query, variables, token) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const body = await (await fetch(url, { method: "POST", headers, body: JSON.stringify({ query, variables }) })).json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

/** The link of the last mail Bazaar "sent" to `email` (development writes mail to its log). */
async function mailedLink(email, path) {
  const pattern = new RegExp(`https?://[^\\s"\\\\]+${path.replace("?", "\\?")}[A-Za-z0-9_\\-]+`);
  for (let i = 0; i < 40; i += 1) {
    const lines = bazaarLog.split("\n").filter((line) => line.includes("bazaar::mail") && line.includes(email));
    const found = lines.at(-1)?.match(pattern);
    if (found) return found[0];
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no mail with ${path} to ${email} in Bazaar's log`);
}

function expect(condition, message) {
  if (!condition) throw new Error(message);
}

let shot = 0;
async function screenshot(page, name) {
  shot += 1;
  const path = join(artifacts, `storefront-${String(shot).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  log(`screenshot ${path}`);
}

async function main() {
  mkdirSync(artifacts, { recursive: true });
  const [bazaarPort, vitePort] = [await freePort(), await freePort()];
  const shop = `http://127.0.0.1:${vitePort}`;
  const api = `http://127.0.0.1:${bazaarPort}/graphql`;
  const database = { DATABASE_URL: `sqlite://${join(work, "shop.db")}` };

  // An admin for the fixture (a discount code); the shopper never uses it.
  const adminPassword = "storefront e2e admin password";
  const admin = spawnSync(bazaarBin, ["create-admin", "--email", "e2e-admin@example.com", "--bcrypt-cost", "4"], {
    env: { ...process.env, ...database, BAZAAR_ADMIN_PASSWORD: adminPassword }, encoding: "utf8",
  });
  expect(admin.status === 0, `create-admin failed: ${admin.stderr}`);

  start("bazaar", bazaarBin, [
    "--listen", `127.0.0.1:${bazaarPort}`, "--bcrypt-cost", "4", "--log-format", "json",
    "--sign-up-url", `${shop}/confirm-sign-up?token=`,
    "--order-status-url", `${shop}/orders/status?token=`,
    "--password-reset-url", `${shop}/reset-password?token=`,
  ], { ...database, RUST_LOG: "info" });
  await waitFor(`http://127.0.0.1:${bazaarPort}/health/ready`, "Bazaar");
  log(`Bazaar is up on ${bazaarPort}`);

  const { login } = await graphql(api, `mutation($p: String!) { login(email: "e2e-admin@example.com", password: $p) { session { token } } }`, { p: adminPassword });
  const created = await graphql(api, `mutation { discountCodeCreate(input: { code: "E2E10", kind: PERCENTAGE, value: "10" }) { userErrors { message } } }`, {}, login.session.token);
  expect(created.discountCodeCreate.userErrors.length === 0, JSON.stringify(created));

  start("vite", process.execPath, [join(storefront, "node_modules/vite/bin/vite.js"), "--host", "127.0.0.1", "--port", String(vitePort), "--strictPort"], {
    BAZAAR_URL: `http://127.0.0.1:${bazaarPort}`, PORT: String(vitePort),
  });
  await waitFor(shop, "Vite");
  log(`Vite is up on ${vitePort}`);

  browser = await chromium.launch({
    executablePath: chromiumPath,
    // Name resolution for anything but loopback fails inside the browser itself, too.
    args: ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--disable-background-networking", "--no-first-run"],
  });
  // Each shopper has a browser profile of their own (storage, session).
  const newPage = async () => {
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    await context.route("**/*", (route) => {
      const url = new URL(route.request().url());
      if (url.hostname === "127.0.0.1") return route.continue();
      blocked.push(route.request().url());
      return route.abort("blockedbyclient");
    });
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    page.on("pageerror", (error) => pageErrors.push(error.message));
    page.on("response", (response) => {
      if (response.status() === 429) log(`throttled (429, Retry-After ${response.headers()["retry-after"]} s): the storefront waits`);
    });
    return page;
  };

  await shopper(await newPage(), shop);
  journeys += 1;
  await guest(await newPage(), shop);
  journeys += 1;

  expect(blocked.length === 0, `requests left loopback: ${blocked.join(", ")}`);
  expect(pageErrors.length === 0, `uncaught errors in the page: ${pageErrors.join(" | ")}`);
}

/** Opens the first product of the list on screen that can be bought; its name, or null. */
async function openBuyableProduct(page) {
  const cards = page.locator(".grid .card a");
  await cards.first().waitFor();
  for (let i = 0; i < (await cards.count()); i += 1) {
    const name = await cards.nth(i).locator(".name").textContent();
    await cards.nth(i).click();
    await page.getByRole("heading", { level: 1, name }).waitFor();
    if (await page.getByRole("button", { name: "Add to cart" }).isEnabled()) return name;
    await page.goBack();
  }
  return null;
}

async function shopper(page, shop) {
  await page.goto(shop);
  await page.getByRole("heading", { name: "Shop by category" }).waitFor();
  await screenshot(page, "home");

  // The category with subcategories: its products span pages.
  const category = page.locator(".categories > li > a.category").first();
  const categoryName = await category.textContent();
  await category.click();
  await page.getByRole("heading", { level: 1, name: categoryName }).waitFor();
  const firstPage = await page.locator(".grid .name").allTextContents();
  expect(firstPage.length > 0, `no products in ${categoryName}`);
  if (await page.getByRole("link", { name: "Next →" }).count()) {
    await page.getByRole("link", { name: "Next →" }).click();
    await page.waitForFunction((first) => document.querySelector(".grid .name")?.textContent !== first, firstPage[0]);
    const secondPage = await page.locator(".grid .name").allTextContents();
    expect(secondPage.length > 0 && !secondPage.some((name) => firstPage.includes(name)), "page 2 repeats page 1");
    await page.getByRole("link", { name: "← Previous" }).click();
    await page.waitForFunction((first) => document.querySelector(".grid .name")?.textContent === first, firstPage[0]);
    log(`${categoryName}: pages of ${firstPage.length} and ${secondPage.length} products`);
  }
  await screenshot(page, "category");

  const productName = await openBuyableProduct(page);
  expect(productName, `nothing in stock in ${categoryName}`);
  await page.getByLabel("Quantity").fill("2");
  await screenshot(page, "product");
  await page.getByRole("button", { name: "Add to cart" }).click();
  await page.getByRole("status").getByText("Added to your cart").waitFor();
  await page.getByRole("link", { name: "Cart (2)" }).waitFor();
  log(`added 2 × ${productName}`);

  await page.getByRole("link", { name: "View cart" }).click();
  await page.getByRole("heading", { name: "Your cart" }).waitFor();
  const totalBefore = await page.locator(".totals .total td").textContent();
  await page.getByLabel("Discount code").fill("E2E10");
  await page.getByRole("button", { name: "Apply" }).click();
  await page.getByText("Discount (E2E10)").waitFor();
  const totalAfter = await page.locator(".totals .total td").textContent();
  expect(totalAfter !== totalBefore, `the discount did not change the total (${totalBefore})`);
  log(`cart total ${totalBefore} → ${totalAfter} with E2E10`);
  await screenshot(page, "cart");

  // Checkout as a guest offers to sign in; this shopper signs up instead.
  await page.getByRole("link", { name: "Check out" }).click();
  await page.getByText("Checking out as a guest").getByRole("link", { name: "Sign in" }).click();
  await page.getByRole("link", { name: "Create an account" }).click();
  const email = `shopper-${Date.now()}@example.com`;
  const password = "a long shopper password";
  await page.getByLabel("First name").fill("Ada");
  await page.getByLabel("Last name").fill("Lovelace");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password (at least 8 characters)").fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("heading", { name: "Check your email" }).waitFor();
  await screenshot(page, "sign-up");
  const link = await mailedLink(email, "/confirm-sign-up?token=");
  expect(link.startsWith(shop), `the sign-up link ${link} does not lead to the storefront`);
  await page.goto(link);

  // Back at checkout, signed in: the email is the account's; the address is new.
  await page.getByRole("heading", { name: "Checkout" }).waitFor();
  await page.getByText(`Signed in as ${email}`).waitFor();
  await page.getByLabel("Address", { exact: true }).fill("12 St James Square");
  await page.getByLabel("City").fill("London");
  await page.getByLabel("Postal code").fill("SW1Y 4JH");
  await page.getByLabel("Country").selectOption("GB");
  await page.getByLabel("Test card that pays").check();
  await screenshot(page, "checkout");
  await page.getByRole("button", { name: /Place order and pay/ }).click();

  await page.getByText("Thank you! Your order is paid.").waitFor();
  const number = (await page.getByRole("heading", { level: 1 }).textContent()).replace("Order ", "");
  expect(await page.getByText(totalAfter).count(), `the order's total is not the cart's ${totalAfter}`);
  log(`order ${number} paid`);
  await screenshot(page, "order-placed");
  await page.getByRole("link", { name: "Cart (0)" }).waitFor();

  await page.getByRole("link", { name: "All your orders" }).click();
  await page.getByRole("heading", { name: "Your orders" }).waitFor();
  const row = page.locator(`tr[data-order="${number}"]`);
  await row.waitFor();
  expect((await row.textContent()).includes("Paid"), `order ${number} is not listed as paid`);
  await screenshot(page, "order-history");

  // Signing out and in again finds the order again, and the next checkout the saved address.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("link", { name: "Sign in" }).first().click();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator(`tr[data-order="${number}"]`).waitFor();
  log(`signed in again: ${number} is in the history`);

  await page.getByRole("link", { name: "Bazaar" }).click();
  await page.locator(".categories > li > a.category").first().click();
  expect(await openBuyableProduct(page), "nothing in stock");
  await page.getByRole("button", { name: "Add to cart" }).click();
  await page.getByRole("link", { name: "View cart" }).click();
  await page.getByRole("link", { name: "Check out" }).click();
  const book = page.getByLabel("Address book");
  await book.waitFor();
  const chosen = await book.evaluate((select) => select.selectedOptions[0].textContent);
  expect(chosen.includes("12 St James Square"), `the address book offers ${chosen}`);
  await page.getByLabel("Email for the confirmation").waitFor();
  expect((await page.getByLabel("Email for the confirmation").inputValue()) === email, "the account's email is not filled in");
  log("the next checkout offers the saved address");
}

async function guest(page, shop) {
  // A guest, in a tab of its own, whose first card is declined.
  await page.goto(`${shop}/search?q=mug`);
  await page.locator(".grid .card a").first().waitFor();
  await screenshot(page, "search");
  expect(await openBuyableProduct(page), "no mug in stock");
  await page.getByRole("button", { name: "Add to cart" }).click();
  await page.getByRole("link", { name: "View cart" }).click();
  await page.getByRole("link", { name: "Check out" }).click();
  await page.getByText("Checking out as a guest").waitFor();
  await page.getByLabel("Email for the confirmation").fill("guest@example.com");
  await page.getByLabel("First name").fill("Grace");
  await page.getByLabel("Last name").fill("Hopper");
  await page.getByLabel("Address", { exact: true }).fill("1 Navy Yard");
  await page.getByLabel("City").fill("Arlington");
  await page.getByLabel("Postal code").fill("22202");
  await page.getByLabel("Test card that is declined").check();
  await page.getByRole("button", { name: /Place order and pay/ }).click();
  await page.getByText("Waiting for payment").waitFor();
  expect(page.url().includes("/orders/status?token=bzo_"), `the guest's order page is ${page.url()}`);
  await page.getByText(/Payment declined/).waitFor();
  await screenshot(page, "guest-declined");
  await page.getByLabel("Test card that pays").check();
  await page.getByRole("button", { name: /^Pay/ }).click();
  await page.getByText("Thank you! Your order is paid.").waitFor();
  await screenshot(page, "guest-paid");
  log("guest order paid on the second card");
}

try {
  await main();
  console.log(`storefront: ${journeys} passed, 0 failed`);
} catch (error) {
  console.log(`storefront: ${journeys} passed, 1 failed`);
  console.error(`FAIL: ${error.stack ?? error}`);
  const pages = browser?.contexts().flatMap((c) => c.pages()) ?? [];
  for (const [i, page] of pages.entries()) {
    await page.screenshot({ path: join(artifacts, `storefront-failure-${i}.png`), fullPage: true }).catch(() => {});
  }
  if (blocked.length) console.error(`requests left loopback: ${blocked.join(", ")}`);
  if (pageErrors.length) console.error(`uncaught errors in the page: ${pageErrors.join(" | ")}`);
  process.exitCode = 1;
} finally {
  await browser?.close().catch(() => {});
  cleanUp();
}
process.exit(process.exitCode ?? 0);
