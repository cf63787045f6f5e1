"""The hosted payment page that stands in for checkout.stripe.com.

Plain HTML with inline CSS and no external resources, so it works offline and on a
phone. Every value shown comes from the merchant's request and is escaped.
"""

from datetime import UTC, datetime
from html import escape

from .objects import Session, format_amount

_CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f4f5f7;color:#1a1f36;line-height:1.5;
font:1rem/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:30rem;margin:0 auto;padding:1rem}
.banner{background:#fff4ce;color:#4d3800;border:1px solid #e0c060;border-radius:.5rem;
padding:.75rem 1rem;margin:0 0 1rem}
h1{font-size:1.5rem;margin:.5rem 0 1rem}
.card{background:#fff;border-radius:.5rem;padding:1rem;box-shadow:0 1px 3px rgba(0,0,0,.12)}
table{width:100%;border-collapse:collapse;margin:0 0 1rem}
caption{text-align:left;font-weight:600;padding-bottom:.5rem}
th,td{padding:.5rem .25rem;border-bottom:1px solid #e3e8ee;text-align:left;vertical-align:top}
.num{text-align:right;white-space:nowrap}
tfoot th,tfoot td{font-weight:700;border-bottom:0}
.alert{background:#fdecec;color:#8a1c1c;border-left:4px solid #c62828;border-radius:.25rem;
padding:.75rem 1rem;margin:0 0 1rem}
button{display:block;width:100%;min-height:3rem;margin:0 0 .75rem;border-radius:.5rem;
font:inherit;font-weight:600;cursor:pointer}
.pay{background:#0a56b8;color:#fff;border:0}
.pay:hover{background:#084593}
.decline{background:#fff;color:#1a1f36;border:1px solid #8792a2}
button:focus-visible,a:focus-visible{outline:3px solid #1a1f36;outline-offset:2px}
.hint,.ref{color:#4f566b;font-size:.875rem}
a{color:#0a56b8}
code{word-break:break-all}
"""


def _document(title: str, body: str) -> str:
    return (
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="robots" content="noindex">\n'
        f"<title>{escape(title)} · Local Stripe stand-in</title>\n"
        f"<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        '<p class="banner"><strong>Local test payment page.</strong> This is the Stripe '
        "stand-in for development and tests: no card is needed and no money moves.</p>\n"
        f"{body}</main>\n</body>\n</html>\n"
    )


def _link(url: str | None, text: str) -> str:
    return f'<p><a href="{escape(url)}">{escape(text)}</a></p>\n' if url else ""


def _summary(session: Session) -> str:
    rows = "".join(
        "<tr>"
        f"<td>{escape(item.name)}</td>"
        f'<td class="num">{item.quantity}</td>'
        f'<td class="num">{escape(format_amount(item.amount_total, item.currency))}</td>'
        "</tr>\n"
        for item in session.line_items
    )
    if session.shipping_rates:
        rate = session.shipping_rates[0]
        rows += (
            f'<tr><td>Shipping: {escape(rate.display_name)}</td><td class="num"></td>'
            f'<td class="num">{escape(format_amount(rate.amount, rate.currency))}</td></tr>\n'
        )
    total = escape(format_amount(session.amount_total, session.currency))
    return (
        "<table>\n<caption>Order summary</caption>\n"
        '<thead><tr><th scope="col">Item</th><th scope="col" class="num">Qty</th>'
        '<th scope="col" class="num">Amount</th></tr></thead>\n'
        f"<tbody>\n{rows}</tbody>\n"
        f'<tfoot><tr><th scope="row" colspan="2">Total</th><td class="num">{total}</td></tr>'
        "</tfoot>\n</table>\n"
    )


def _reference(session: Session) -> str:
    return f'<p class="ref">Checkout session <code>{escape(session.id)}</code></p>\n'


def render_setup(session: Session) -> str:
    """A setup session's page: save one of Stripe's test cards, nothing is charged."""
    if session.status == "complete":
        return _document(
            "Card saved",
            "<h1>Card saved</h1>\n"
            '<div class="card">\n<p role="status">Your card is saved with the shop for later '
            "payments. Nothing was charged.</p>\n"
            f"{_link(session.return_url, 'Continue to the shop')}</div>\n{_reference(session)}",
        )
    if session.status == "expired":
        return _document(
            "Page expired",
            "<h1>This page has expired</h1>\n"
            '<div class="card">\n<p role="status">No card was saved. Return to the shop to '
            f"start again.</p>\n{_link(session.cancel_url, 'Return to the shop')}</div>\n"
            f"{_reference(session)}",
        )
    return _document(
        "Save a card",
        "<h1>Save a card</h1>\n"
        '<div class="card">\n<p>The shop will charge this card later, when you are not '
        "here. Nothing is charged now.</p>\n"
        f'<form method="post" action="/pay/{escape(session.id)}">\n'
        '<button type="submit" name="action" value="save" class="pay">Save card</button>\n'
        '<button type="submit" name="action" value="save_declining" class="decline" '
        'aria-describedby="setup-hint">Save a card that will be declined</button>\n'
        '<button type="submit" name="action" value="save_authenticating" class="decline" '
        'aria-describedby="setup-hint">Save a card that needs authentication</button>\n'
        '<p id="setup-hint" class="hint">The last two save Stripe\'s test cards whose later '
        "charges are declined, or need the cardholder, to test what the shop does then.</p>\n"
        f"</form>\n{_link(session.cancel_url, 'Cancel and return to the shop')}</div>\n"
        f"{_reference(session)}",
    )


def render_session(session: Session, *, declined: bool = False) -> str:
    """The page for a session in any state: buttons only while it can still be paid."""
    if session.mode == "setup":
        return render_setup(session)
    total = format_amount(session.amount_total, session.currency)
    if session.status == "complete" and session.payment_status == "unpaid":
        # Manual capture: the card is held, and charged only when the shop captures.
        return _document(
            "Payment authorised",
            "<h1>Payment authorised</h1>\n"
            f'<div class="card">\n<p role="status">Your card is authorised for {escape(total)}. '
            "Nothing is charged until the shop confirms the order; if it does not, the hold "
            "is released.</p>\n"
            f"{_summary(session)}{_link(session.return_url, 'Continue to the shop')}</div>\n"
            f"{_reference(session)}",
        )
    if session.status == "complete":
        return _document(
            "Payment complete",
            "<h1>Payment complete</h1>\n"
            f'<div class="card">\n<p role="status">This order has been paid ({escape(total)}). '
            "There is nothing more to do on this page.</p>\n"
            f"{_summary(session)}{_link(session.return_url, 'Continue to the shop')}</div>\n"
            f"{_reference(session)}",
        )
    if session.status == "expired":
        expired_at = datetime.fromtimestamp(session.expires_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        return _document(
            "Payment page expired",
            "<h1>This payment page has expired</h1>\n"
            f'<div class="card">\n<p role="status">It stopped accepting payment on '
            f"{escape(expired_at)}. Nothing was charged. Return to the shop to start again.</p>\n"
            f"{_summary(session)}{_link(session.cancel_url, 'Return to the shop')}</div>\n"
            f"{_reference(session)}",
        )
    alert = (
        '<div class="alert" role="alert"><p><strong>Your card was declined.</strong> '
        "No money was taken. You can try again, or return to the shop.</p></div>\n"
        if declined
        else ""
    )
    return _document(
        f"Pay {total}",
        f"<h1>Pay {escape(total)}</h1>\n{alert}"
        f'<div class="card">\n{_summary(session)}'
        f'<form method="post" action="/pay/{escape(session.id)}">\n'
        f'<button type="submit" name="action" value="pay" class="pay">Pay {escape(total)}</button>\n'
        '<button type="submit" name="action" value="decline" class="decline" '
        'aria-describedby="decline-hint">Decline</button>\n'
        '<p id="decline-hint" class="hint">Decline acts as if the bank refused the card, '
        "to test what the shop does then.</p>\n</form>\n"
        f"{_link(session.cancel_url, 'Return to the shop' if declined else 'Cancel and return to the shop')}"
        f"</div>\n{_reference(session)}",
    )


def render_not_found() -> str:
    return _document(
        "Payment page not found",
        "<h1>Payment page not found</h1>\n"
        '<div class="card"><p>No checkout session has this address. It may belong to a '
        "stand-in that has since restarted (its state is kept in memory only).</p></div>\n",
    )


def render_bad_request(session: Session) -> str:
    """An unknown form action: say so and offer the page again."""
    return _document(
        "Unknown action",
        "<h1>Unknown action</h1>\n"
        '<div class="card"><p role="alert">This page only understands Pay and Decline.</p>\n'
        f"{_link(f'/pay/{session.id}', 'Back to the payment page')}</div>\n",
    )
