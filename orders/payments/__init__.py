"""Paying orders through Stripe Checkout.

The same code talks to Stripe and to the local stand-in (`devtools/stripe_standin`);
only `STRIPE_API_BASE` differs. Card data never reaches the site: the patient pays
on the hosted page, and the order moves only when a signed webhook event says so.

- `client`: the Stripe client, its retryable failures, cents.
- `sessions`: the hosted payment page of an order (Checkout Sessions).
- `verification`: a webhook request's signature and shape, before anything is stored.
- `events`: storing an event once and applying it once, and which task takes it.
- `handlers`: what each event type does to its order, and `EVENTS`, the one table of
  event types (add a payment event there).
- `intents`: the events of a card authorised at checkout (manual capture), and
  `settlement`: capturing it once the pharmacist verifies, or cancelling it.
- `refunds`: refunding an order, or a payment that pays no order.
- `discrepancies`, `reconciliation`: payments that must not pay an order, found by
  the handlers at once and by the nightly comparison with Stripe.
"""
