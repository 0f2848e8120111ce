/** Two devices of one user (different device ids, even sharing one store) stay independent. */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { MemoryStore, SyncClient } from "../src/index.js";
import { fastBackoff, missing, recorder, waitFor } from "./helpers.js";
import { Stack } from "./stack.js";

let stack: Stack;
before(async () => {
  stack = await Stack.start();
});
after(async () => {
  await stack?.stop();
});

it("each device gets every event at its own pace; one device's acknowledgements do not move the other", async () => {
  const store = new MemoryStore(); // shared on purpose: keys name the device
  const make = (deviceId: string) =>
    new SyncClient({
      baseUrl: stack.baseUrl,
      session: stack.sid("alice"),
      userId: stack.uid("alice"),
      deviceId,
      appType: "sales_app",
      store,
      limit: 3,
      backoff: fastBackoff,
    });
  const phone = make("phone");
  const tablet = make("tablet");
  const phoneGot = recorder();
  const tabletGot = recorder();

  const first = await stack.createRecords(5);
  const phoneLive = new AbortController();
  const tabletLive = new AbortController();
  const phoneRun = phone.live(phoneGot.apply, { signal: phoneLive.signal, wait: 1 });
  const tabletRun = tablet.live(tabletGot.apply, { signal: tabletLive.signal, wait: 1 });
  let tabletStopped = false;
  try {
    await waitFor(
      () => missing(first, phoneGot.records()).length === 0 && missing(first, tabletGot.records()).length === 0,
      "both devices get the first records",
    );
    tabletLive.abort();
    await tabletRun;
    tabletStopped = true;
    const second = await stack.createRecords(4);
    await waitFor(() => missing(second, phoneGot.records()).length === 0, "the phone gets the later records");
    assert.deepEqual(missing(second, tabletGot.records()), second, "the stopped tablet got none of them");
    const [phoneState, tabletState] = [await phone.state(), await tablet.state()];
    assert.ok(phoneState.last_event_id > tabletState.last_event_id, "the phone's position moved alone");

    // The tablet catches up by itself later.
    await tablet.syncOnce(tabletGot.apply);
    assert.deepEqual(missing(second, tabletGot.records()), []);
    assert.equal((await tablet.state()).last_event_id, (await phone.state()).last_event_id);
  } finally {
    phoneLive.abort();
    tabletLive.abort();
    await phoneRun;
    if (!tabletStopped) await tabletRun;
  }
  // A reset of one device leaves the other where it was.
  const before = (await phone.state()).last_event_id;
  await tablet.reset();
  assert.equal((await tablet.state()).last_event_id, 0);
  assert.equal((await phone.state()).last_event_id, before);
  assert.notEqual(await store.get(`odoo-sync:6:phone:token`), null);
  assert.equal(await store.get(`odoo-sync:6:tablet:token`), null);
});
