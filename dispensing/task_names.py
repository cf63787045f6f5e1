"""The registered names of the dispensing app's Celery tasks (see orders/task_names.py)."""

EXPIRE_LOTS = "dispensing.stock.expire_lots"
SEND_RECALL_NOTICE = "dispensing.recalls.send_recall_notice"
SEND_COUNSELLING_OFFER = "dispensing.counselling.send_counselling_offer"
SEND_MESSAGE_NOTICE = "dispensing.counselling.send_message_notice"
