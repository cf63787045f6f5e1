"""Staff roles as Django groups, each holding exactly the permissions it needs.

Called from data migrations, so it works on the historical models it is given.
"""

from django.contrib.auth.management import create_permissions

CATALOG_STAFF = "Catalog staff"
PHARMACIST = "Pharmacist"


def ensure_group(apps, name: str, permissions: dict[str, list[str]]) -> None:
    """Create or update group `name` so it holds exactly `permissions`.

    `permissions` maps "app_label.model" to codename actions, e.g.
    {"catalog.package": ["view", "change"]}.
    """
    group, wanted = _group_and_permissions(apps, name, permissions)
    group.permissions.set(wanted)


def grant(apps, name: str, permissions: dict[str, list[str]]) -> None:
    """Add `permissions` (same shape as for `ensure_group`) to group `name`, keeping
    the rest: for a migration that adds a model, whatever other migrations granted."""
    group, wanted = _group_and_permissions(apps, name, permissions)
    group.permissions.add(*wanted)


def _group_and_permissions(apps, name: str, permissions: dict[str, list[str]]):
    # Permissions are normally created after all migrations ran; create them now so
    # the group can be filled inside this migration.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=name)
    wanted = []
    for label, actions in permissions.items():
        app_label, model = label.split(".")
        for action in actions:
            wanted.append(
                Permission.objects.get(
                    content_type__app_label=app_label,
                    codename=f"{action}_{model}",
                )
            )
    return group, wanted
