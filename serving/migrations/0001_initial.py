"""The served-model row, moved from ``jobs`` with its data: state first, then the table."""

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [("jobs", "0002_kinds_registered_reminder_and_served_model_moved")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ServedModel",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("path", models.CharField(blank=True, max_length=1024)),
                        ("version", models.PositiveIntegerField(default=0)),
                        ("updated", models.DateTimeField(auto_now=True)),
                        ("model_server", models.JSONField(blank=True, null=True)),
                        ("next_pull", models.DateTimeField(blank=True, null=True)),
                    ],
                    options={"db_table": "jobs_servedmodel"},
                ),
            ],
        ),
        migrations.AlterModelTable(name="servedmodel", table=None),
    ]
