from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("videos", "0002_assembly_attempts_chunk_indexed")]

    operations = [
        migrations.AddField(
            model_name="video",
            name="received_chunks",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="video",
            name="received_bytes",
            field=models.BigIntegerField(blank=True, null=True),
        ),
    ]
