from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("transcripts", "0002_transcript_lease"),
    ]

    operations = [
        migrations.AddField(
            model_name="transcript",
            name="progress",
            field=models.FloatField(default=0.0),
        ),
    ]
