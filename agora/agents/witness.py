"""The witness: reads the evidence and answers the examining advocate's question from it (courtroom protocol)."""

from __future__ import annotations

from agora.agents.speaker import Speaker
from agora.backends import Backend
from agora.state import View
from agora.transcript import render_transcript
from agora.types import Message, Settings, system, user

SYSTEM_PROMPT = (
    "You are a witness in a trial. You have read the evidence; the advocates, the judge and the jury may not "
    "have. Answer the question you are asked truthfully and only from the evidence, whichever side asks it, and "
    "say so when the evidence does not tell. Quote the evidence exactly in <quote></quote> tags: every quote is "
    "checked against the evidence and the court is told whether it was found. Keep each answer under {words} words."
)
USER_PROMPT = (
    "The charge:\n{question}\n\nEvidence:\n{evidence}\n\nThe trial so far:\n{transcript}\n\n"
    "You are {name}. Answer the last question put to you."
)


class Witness(Speaker):
    """One witness: sees the evidence, argues no side, answers the latest question in the transcript."""

    role = "witness"

    def __init__(
        self,
        model: Backend | str,
        *,
        name: str = "witness",
        settings: Settings = Settings(max_tokens=300),
        words: int = 100,
        system_prompt: str = SYSTEM_PROMPT,
        user_prompt: str = USER_PROMPT,
    ) -> None:
        super().__init__(
            model, name=name, settings=settings, words=words, system_prompt=system_prompt, user_prompt=user_prompt
        )

    def messages(self, seen: View) -> list[Message]:
        """The prompt for one answer. Both templates may use ``name``, ``words``, ``question``, ``evidence`` and
        ``transcript``."""
        fields = {
            "name": self.name,
            "words": self.words,
            "question": seen.question,
            "evidence": seen.evidence or "(none)",
            "transcript": render_transcript(seen.transcript),
        }
        return [system(self.system_prompt.format(**fields)), user(self.user_prompt.format(**fields))]

    async def testify(self, seen: View) -> str:
        """The text of this witness's answer."""
        return await self.say(self.messages(seen))
