// Flags large orders and tells sales. JavaScript (an ES module).
import { incr, notify } from "host:store";

const LIMIT = 100;

export function onEvent(ev) {
  if (ev.type !== "order") return null;
  if (ev.amount > LIMIT) {
    const n = incr("big");
    notify("sales@example.com", `big order #${n}: ${ev.amount}`);
    return { action: "review", reason: `amount ${ev.amount} > ${LIMIT}` };
  }
  return { action: "accept" };
}
