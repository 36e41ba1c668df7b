"""Reminders move from ``jobs`` with their rows: state first, then the table."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("trackers", "0004_correction_event_do_nothing"),
        ("jobs", "0002_kinds_registered_reminder_and_served_model_moved"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Reminder",
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
                        ("sender_id", models.CharField(db_index=True, max_length=255)),
                        ("name", models.CharField(max_length=255)),
                        ("intent", models.CharField(max_length=255)),
                        ("entities", models.JSONField(blank=True, null=True)),
                        ("trigger_at", models.DateTimeField(db_index=True)),
                        ("kill_on_user_msg", models.BooleanField(default=True)),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("scheduled", "Scheduled"),
                                    ("firing", "Firing"),
                                    ("fired", "Fired"),
                                    ("cancelled", "Cancelled"),
                                    ("outdated", "Outdated"),
                                    ("failed", "Failed"),
                                ],
                                db_index=True,
                                default="scheduled",
                                max_length=10,
                            ),
                        ),
                        ("created", models.DateTimeField(auto_now_add=True)),
                        ("finished", models.DateTimeField(blank=True, null=True)),
                        ("outcome", models.TextField(blank=True)),
                    ],
                    options={
                        "ordering": ["trigger_at"],
                        "db_table": "jobs_reminder",
                    },
                ),
            ],
        ),
        migrations.AlterModelTable(name="reminder", table=None),
    ]
