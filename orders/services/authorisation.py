"""Orders whose card is authorised at checkout and charged after verification.

The moves are in `lifecycle` (`order_mark_authorised`, then `order_mark_paid` or
`order_cancel`); talking to Stripe about the authorisation (capture, cancel) is
`orders.payments.settlement`, above this layer.
"""

from prescriptions.services import prescription_recheck, prescription_reserve_units

from ..models import Order, OrderLine


def waiting_lines(order: Order) -> list[OrderLine]:
    """The lines whose prescription was still with the pharmacist at checkout."""
    return list(
        order.lines.filter(units_reserved=False).select_related(
            "prescription", "package__formulation"
        )
    )


def line_reserve_units(*, line: OrderLine) -> bool:
    """Take a verified prescription's units for a line that took none at checkout, after
    running its review again as checkout does; False (nothing taken) if it cannot.

    Call it inside the transaction that moves the order to paid.
    """
    prescription = prescription_recheck(prescription_id=line.prescription_id)
    if prescription.is_held:
        return False
    if not prescription_reserve_units(prescription_id=line.prescription_id, units=line.units):
        return False
    OrderLine.objects.filter(pk=line.pk).update(units_reserved=True)
    line.units_reserved = True
    return True
