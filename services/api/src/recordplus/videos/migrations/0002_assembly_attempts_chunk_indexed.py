from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("videos", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="video",
            name="assembly_attempts",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="chunk",
            name="indexed",
            field=models.BooleanField(default=True),
        ),
    ]
