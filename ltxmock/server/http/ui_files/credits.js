// The credits panel: the default balance (what a key that has not spent yet starts
// with) and the first MAX_ACCOUNTS accounts with their balance and spending, from
// GET /__ltxmock/credits?limit=…, so one read costs the same however many keys the
// mock has seen. Accounts are named by the mock's short fingerprint, never the key.

import { admin } from "./api.js";
import { el, money } from "./dom.js";

const MAX_ACCOUNTS = 10;

export function balance(value) {
  return value === null || value === undefined ? "unlimited" : money(value);
}

export class CreditsPanel {
  constructor(header, rows, empty, more) {
    this.header = header;
    this.rows = rows;
    this.empty = empty;
    this.more = more;
  }

  async refresh() {
    const answer = await admin("GET", `/credits?limit=${MAX_ACCOUNTS}`);
    this.header.textContent = balance(answer.default);
    const accounts = (answer.accounts || []).slice(0, MAX_ACCOUNTS);
    this.rows.replaceChildren(
      ...accounts.map((account) => {
        const row = el("tr");
        row.dataset.account = account.account;
        const name = el("td");
        name.append(el("code", account.account));
        row.append(name, el("td", balance(account.balance), "balance"), el("td", money(account.spent), "spent"));
        return row;
      }),
    );
    this.empty.hidden = accounts.length > 0;
    this.more.hidden = !answer.more;
  }
}

// The value of the "default balance" field as the PUT sends it: empty is unlimited.
export function balanceBody(raw) {
  const text = raw.trim();
  if (text === "") return { balance: null };
  const usd = Number(text);
  if (!Number.isFinite(usd) || usd < 0) throw new Error("A balance is a non-negative number of USD, or empty for unlimited.");
  return { balance: usd };
}
