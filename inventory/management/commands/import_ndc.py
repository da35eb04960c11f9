"""`manage.py import_ndc DIR`: import an FDA NDC Directory folder (product.txt, package.txt)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from inventory.services.catalogue import NDCImportError, import_ndc_directory


class Command(BaseCommand):
    help = (
        "Import the drug catalogue from a folder holding the FDA NDC Directory files "
        "product.txt and package.txt (finished or unfinished layout). Re-importing updates, "
        "never duplicates. Rows that cannot be used are listed with their line numbers; the "
        "exit status is 0 whenever the import happened, even with such rows."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path, help="folder with product.txt and package.txt")
        parser.add_argument(
            "--max-problems",
            type=int,
            default=200,
            help="list at most this many problem rows (default 200; 0 lists them all)",
        )

    def handle(self, *args, directory: Path, max_problems: int, **options):
        try:
            report = import_ndc_directory(directory, progress=self._progress)
        except NDCImportError as error:
            raise CommandError(f"Nothing was imported: {error}") from None

        problems = report.problems
        shown = problems if max_problems <= 0 else problems[:max_problems]
        if problems:
            self.stdout.write(self.style.WARNING(f"{len(problems)} rows had problems:"))
            for problem in shown:
                self.stdout.write(f"  {problem}")
            if len(shown) < len(problems):
                self.stdout.write(
                    f"  ... and {len(problems) - len(shown)} more (use --max-problems 0 to list "
                    "them all)"
                )
        self.stdout.write(self.style.SUCCESS(f"Imported {directory}: {report.summary()}"))

    def _progress(self, message: str) -> None:
        self.stdout.write(f"  {message}")
