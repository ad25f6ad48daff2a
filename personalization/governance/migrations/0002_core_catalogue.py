"""Load the core labels, marketing actions and (draft) policies into every existing sandbox."""

from django.db import migrations


def load(apps, schema_editor):
    from personalization.governance.catalogue import catalogue_ensure

    models = (apps.get_model("governance", "Label"), apps.get_model("governance", "MarketingAction"),
              apps.get_model("governance", "Policy"))  # fmt: skip
    for sandbox in apps.get_model("accounts", "Sandbox").objects.all():
        catalogue_ensure(sandbox, models=models)


class Migration(migrations.Migration):
    dependencies = [("governance", "0001_initial"), ("accounts", "0005_alert_permissions")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
