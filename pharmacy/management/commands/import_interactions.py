"""`manage.py import_interactions FILE`: import drug-drug interaction pairs by ingredient."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from pharmacy.drug_checks import InteractionImportError, import_interactions
from pharmacy.models import DrugInteraction


class Command(BaseCommand):
    help = (
        "Import drug-drug interaction pairs by ingredient with a severity: the VA NDF-RT and "
        "ONC list layouts (tab-separated, object/precipitant/severity/source columns) or a "
        "plain CSV ingredient_a,ingredient_b,severity,description. Re-importing updates, never "
        "duplicates. Bad rows are listed with their line numbers; the exit status is 0 "
        "whenever pairs were imported, even with such rows."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="the interaction file")
        parser.add_argument(
            "--format",
            dest="source_format",
            choices=DrugInteraction.Source.values,
            help="the list the file holds (default: read from the file)",
        )
        parser.add_argument(
            "--max-problems",
            type=int,
            default=200,
            help="list at most this many bad rows (default 200; 0 lists them all)",
        )

    def handle(self, *args, file: Path, source_format: str | None, max_problems: int, **options):
        try:
            report = import_interactions(file, source_format=source_format)
        except InteractionImportError as error:
            raise CommandError(f"Nothing was imported: {error}") from None

        bad_rows = report.bad_rows
        shown = bad_rows if max_problems <= 0 else bad_rows[:max_problems]
        if bad_rows:
            self.stdout.write(self.style.WARNING(f"{len(bad_rows)} bad rows were skipped:"))
            for bad_row in shown:
                self.stdout.write(f"  {bad_row}")
            if len(shown) < len(bad_rows):
                self.stdout.write(
                    f"  ... and {len(bad_rows) - len(shown)} more (use --max-problems 0 to list "
                    "them all)"
                )
        if report.rows_read and not report.pairs_imported:
            raise CommandError(f"Nothing was imported from {file}: no row held a usable pair.")
        self.stdout.write(self.style.SUCCESS(f"Imported {file}: {report.summary()}"))
