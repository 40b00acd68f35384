"""The staff roles (accounts.roles), so that every database has them from the start."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from accounts.roles import roles_sync


def roles_create(apps, schema_editor):
    # Permissions are made after migrations (post_migrate): on a new database they do
    # not exist yet, so they are made here first.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    roles_sync(group_model=apps.get_model("auth", "Group"), permission_model=apps.get_model("auth", "Permission"))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_contract_promise_until_provider_promise_days_and_more"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("core", "0001_initial"),
        ("plans", "0002_promotion"),
        ("billing", "0001_initial"),
        ("payments", "0005_webhook_delivery_facts"),
        ("mfa", "0003_authenticator_type_uniq"),
        ("account", "0009_emailaddress_unique_primary_email"),
    ]

    operations = [migrations.RunPython(roles_create, migrations.RunPython.noop)]
