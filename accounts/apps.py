from django.apps import AppConfig
from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save

from pharmacy.page_versions import watch

from .user_cache import forget_user


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        user_model = get_user_model()
        post_save.connect(forget_user, sender=user_model, dispatch_uid="accounts-forget-user")
        post_delete.connect(forget_user, sender=user_model, dispatch_uid="accounts-forget-user")
        watch(user_model)
