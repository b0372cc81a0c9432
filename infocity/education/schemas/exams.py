"""Shapes of exam results crossing the service boundary."""

from __future__ import annotations

from pydantic import AwareDatetime, Field

from infocity.core.schemas import InputModel, OutputModel


class ExamLookup(InputModel):
    """A look-up, as typed on the city portal: no login needed."""

    registration_code: str = Field(min_length=1, max_length=40, examples=["123456789012"])
    document_number: str = Field(
        min_length=1, max_length=40, description="The number alone, without the series"
    )


class ExamSubjectResultRead(OutputModel):
    subject: str
    subject_name: str  # in the language of the request
    score: int
    pass_mark: int
    passed: bool
    version: int = Field(description="1, or more once the result was corrected")
    published_at: AwareDatetime


class ExamResultsRead(OutputModel):
    registration_code: str
    results: list[ExamSubjectResultRead]


class ExamRowProblemRead(OutputModel):
    line: int
    message: str


class ExamImportRead(OutputModel):
    import_id: int
    rows: int
    participants_added: int
    corrections: int  # rows that added a version to a result already imported
    publications: int  # distinct subject and instant pairs in the file


class ExamSubscriptionRead(OutputModel):
    id: int
    registration_code: str
