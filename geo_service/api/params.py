"""Parameter types shared by the API's routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator

from geo_service.boundaries.versions import storable

# A time a request may carry: one the database can store (a real UTC offset, a date in range);
# anything else is a 422 naming the parameter, not a failure inside a query.
Moment = Annotated[datetime, AfterValidator(storable)]
