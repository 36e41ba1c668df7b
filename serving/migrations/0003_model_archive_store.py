"""Model archives in the database (or a storage); the served model named by hash, not path.

A choice recorded as a path cannot be carried over (the file may be on one host only): it
is forgotten, so processes start with the archive ``CONVAPI_MODEL`` names, stored then.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def forget_path_choices(apps, schema_editor):
    served_model = apps.get_model("serving", "ServedModel")
    served_model.objects.exclude(path="").update(choice="")


class Migration(migrations.Migration):
    dependencies = [
        ("serving", "0002_served_model_choice"),
    ]

    operations = [
        migrations.CreateModel(
            name="ModelArchive",
            fields=[
                ("sha256", models.CharField(max_length=64, primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=255)),
                ("size", models.BigIntegerField()),
                ("model_id", models.CharField(blank=True, max_length=64)),
                ("fingerprint", models.CharField(blank=True, max_length=128)),
                ("storage", models.CharField(blank=True, max_length=64)),
                ("location", models.CharField(blank=True, max_length=1024)),
                ("created", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
            ],
        ),
        migrations.RunPython(forget_path_choices, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name="servedmodel",
            name="path",
        ),
        migrations.AddField(
            model_name="servedmodel",
            name="archive",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                to="serving.modelarchive",
            ),
        ),
        migrations.CreateModel(
            name="ModelArchiveChunk",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("number", models.PositiveIntegerField()),
                ("data", models.BinaryField()),
                (
                    "archive",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="chunks",
                        to="serving.modelarchive",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("archive", "number"), name="one_chunk_per_number"
                    )
                ],
            },
        ),
    ]
