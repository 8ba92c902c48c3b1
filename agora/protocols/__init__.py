"""Oversight protocols: each a function that returns a compiled LangGraph graph."""

from agora.protocols.cascade import Cascade, Stage
from agora.protocols.consultancy import consultancy
from agora.protocols.courtroom import courtroom
from agora.protocols.debate import debate
from agora.protocols.direct_qa import direct_qa
from agora.protocols.jury import Jury

__all__ = ["Cascade", "Jury", "Stage", "consultancy", "courtroom", "debate", "direct_qa"]
