from pathlib import Path
from types import SimpleNamespace

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from catalog import models
from catalog.seed import MonographFormatError, load_monograph, parse_monograph
from catalog.versions import record_first_versions


class Command(BaseCommand):
    help = (
        "Load a drug monograph text file (same shape as catalog/data/baclofen-monograph.txt). "
        "A drug that already exists is left untouched. Each loaded row's first version "
        "is kept in its history, as 'Loaded from the monograph source'."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)

    def handle(self, *args, path: Path, **options):
        try:
            parsed = parse_monograph(path.read_text(encoding="utf-8"))
            with transaction.atomic():
                drug, created = load_monograph(parsed, models=SimpleNamespace(**vars(models)))
                record_first_versions(apps=apps)
        except (OSError, MonographFormatError) as exc:
            raise CommandError(str(exc)) from exc
        verb = "Loaded" if created else "Already present, left unchanged:"
        self.stdout.write(f"{verb} {drug.name} ({drug.get_absolute_url()})")
