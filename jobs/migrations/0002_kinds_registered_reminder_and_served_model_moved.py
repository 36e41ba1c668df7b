"""Kinds of job are registered by the apps that own them; reminders and the served model
move to ``trackers`` and ``serving`` (their tables are renamed there, their rows kept)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("jobs", "0001_initial")]

    operations = [
        migrations.AlterField(model_name="job", name="kind", field=models.CharField(max_length=20)),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="Reminder"),
                migrations.DeleteModel(name="ServedModel"),
            ],
        ),
    ]
