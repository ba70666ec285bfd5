from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('transcripts', '0004_live_windows'),
    ]

    operations = [
        migrations.AddField(
            model_name='livetranscript',
            name='provisional_text',
            field=models.TextField(blank=True, default=''),
        ),
        migrations.AddField(
            model_name='livetranscript',
            name='provisional_start',
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='livetranscript',
            name='provisional_end',
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='livetranscript',
            name='provisional_mark',
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='livetranscript',
            name='provisional_lease_expires_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
