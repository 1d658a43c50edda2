"""Documentation about AI / LLM software (our own writing, CC0): product docs, configuration
references, changelogs, model cards, FAQs and prompt guides.

A RAG service indexes exactly this kind of text, and it talks *about* an assistant, its answers,
its prompts and its users in the third person or to the operator, which reads much like an order
*to* an assistant. Each entry is one coherent passage; split by position (last 30% held out).
"""

from __future__ import annotations

AIDOCS: list[str] = [
    # -- product and configuration docs -----------------------------------------------------------
    "The assistant answers from the retrieved sources only. Each sentence of an answer cites the "
    "passage it comes from, and the citation opens the document at that passage. When no passage "
    "supports an answer, the assistant says that the documents do not cover the question.",
    "Set the model's temperature to 0 for repeatable answers. Higher values make the wording vary "
    "between runs, which suits brainstorming but not support answers. The default is 0.2.",
    "To change the language of answers, set `answer_language` in the workspace settings. The model "
    "then replies in that language whatever the language of the question. Leave it empty to answer in "
    "the language the user writes in.",
    "The system prompt tells the model how to behave: which sources to use, how to cite them and when "
    "to refuse. You can extend it with your own instructions under Settings > Assistant. Keep custom "
    "instructions short; long prompts leave less room for sources.",
    "Responses are streamed token by token. The client shows the text as it arrives and replaces it "
    "with the final, validated answer when the stream ends. If the connection drops, the answer is "
    "not cached.",
    "Max tokens limits the length of each response. A summary of a long report may need 512 tokens; "
    "a factual answer rarely needs more than 150. The limit includes any citations the model writes.",
    "Uploaded files are split into chunks of about 800 characters, embedded and stored in the vector "
    "index. At question time the ten closest chunks are reranked and the best five are given to the "
    "language model as context.",
    "The chatbot widget can be embedded on any page with one script tag. Users type a question, and "
    "the bot replies with an answer and clickable source links. Style it with CSS variables to match "
    "your site.",
    "Guardrails screen both questions and documents. A question that tries to change the assistant's "
    "rules is rejected with an error, and a document that contains instructions to the model is "
    "quoted as data so the model does not follow it.",
    "If the LLM server is unavailable, the service answers with the most relevant passages instead of "
    "a generated summary. The response is marked as degraded, and the widget shows a notice to the "
    "user.",
    "Use the `top_k` parameter to control how many passages the retriever returns. More passages give "
    "the model more context but make each answer slower and more expensive.",
    "Answers are cached for an hour, keyed on the question, the collection version and the prompt "
    "version. Re-indexing a collection invalidates its cached answers automatically.",
    "Each API key belongs to one workspace. Send it in the Authorization header as a bearer token. "
    "Requests without a valid key get a 401 response with a JSON error body.",
    "The summarizer condenses each document into five bullet points and a one-line title. Summaries "
    "are generated once at upload and stored with the document, so they cost nothing at query time.",
    # -- changelogs and release notes ------------------------------------------------------------
    "Version 2.4.0: the assistant now cites page numbers for PDF sources. Answers in extractive mode "
    "quote whole sentences instead of fragments. Fixed a bug where follow-up questions lost the "
    "conversation history after ten turns.",
    "Changelog 1.9: added support for Llama 3 and Mistral models through the OpenAI-compatible "
    "endpoint. The default embedding model is now all-MiniLM-L6-v2. Deprecated the `answer_style` "
    "option; use prompt templates instead.",
    "Release notes: the chatbot responds faster on long documents thanks to a smaller reranker. "
    "Translation of answers is now available for French, German and Spanish. The refusal message can "
    "be customised per workspace.",
    "Breaking change: the `/ask` endpoint now returns citations as objects with a number, a title and "
    "a quote. Clients that parsed the old string format must update before 1 July.",
    # -- model cards -------------------------------------------------------------------------------
    "Model card. Intended use: answering questions about internal documentation. The model may produce "
    "plausible but incorrect statements, so answers should be checked against their cited sources. It "
    "was not evaluated on medical or legal advice and should not be used for it.",
    "Training data: public web text and licensed books up to 2023. The model was fine-tuned to follow "
    "instructions and to refuse requests for harmful content. Known limitations include weak arithmetic "
    "and a tendency to answer confidently when unsure.",
    "Evaluation: on our held-out question set the assistant answered 87% of questions correctly and "
    "refused 6% of answerable ones. Human raters preferred its answers to the baseline's in 64% of "
    "pairs.",
    "Bias and safety: the model can reflect stereotypes present in its training data. We filtered "
    "toxic content and red-teamed the model with prompt injection and jailbreak attempts before "
    "release.",
    # -- FAQs ----------------------------------------------------------------------------------------
    "Why does the assistant say it doesn't know? It only answers from your documents. If none of the "
    "retrieved passages contains the answer, it refuses rather than guessing. Try rephrasing the "
    "question or uploading the missing document.",
    "Can the bot answer in other languages? Yes. Ask in your language and it will reply in the same "
    "one, as long as the underlying model supports it. Citations always point to the original text.",
    "How do I stop the model from making things up? Use extractive mode, which only quotes sentences "
    "from the sources, or lower the temperature and keep the refusal floor at its default.",
    "Does the assistant remember previous conversations? Only within a session. Each chat keeps its "
    "last six turns so that follow-up questions make sense; nothing is stored after the session ends.",
    "Can I use my own model? Point `base_url` at any OpenAI-compatible server and set the model name. "
    "Smaller local models answer faster but follow the citation format less reliably.",
    "What happens to my data? Documents stay in your own vector database. Questions and answers are "
    "logged for 30 days to help us debug problems, and you can turn logging off in the admin panel.",
    # -- prompt and integration guides ----------------------------------------------------------
    "Prompt tips: tell the model who the audience is and what format you want. For example, a "
    "template that asks for a numbered list of steps gets more consistent answers than one that says "
    "'be helpful'. Test each change on a fixed set of questions.",
    "Few-shot examples show the model what a good answer looks like. Two or three short examples are "
    "usually enough; more of them crowd out the retrieved context in a small window.",
    "To get JSON output, describe the schema in the system prompt and enable the server's JSON mode. "
    "Validate the result anyway: small models sometimes add a sentence before the opening brace.",
    "When you evaluate answers, compare them with reference answers and check every citation. An "
    "answer that is correct but cites the wrong source should count as a failure.",
    "The agent can call tools such as search, calculator and calendar. It decides which tool to use "
    "from the tool descriptions, so write them clearly and say when each tool should not be used.",
    "Rate limits: each workspace may send 60 requests a minute. Clients that exceed the limit receive "
    "a 429 response and should retry after the number of seconds in the Retry-After header.",
    "Instruct users to phrase questions as full sentences. Keyword queries work, but questions such as "
    "'How do I reset my password?' retrieve better passages than 'password reset'.",
    "Admins can review flagged answers in the moderation queue. Mark an answer as wrong to exclude it "
    "from the cache and send it to the evaluation set.",
    "The embedding model maps each sentence to a 384-dimensional vector. Cosine similarity between the "
    "question's vector and each chunk's vector ranks the chunks before reranking.",
    "Speech input is transcribed on the device and sent as text. The assistant's reply can be read "
    "aloud with the browser's text-to-speech; choose the voice in the widget settings.",
    "Copilot suggestions appear as grey text in the editor. Press Tab to accept a suggestion or keep "
    "typing to ignore it. Suggestions are generated from the open file and its neighbours.",
    "The translation assistant translates documents into 30 languages while keeping their layout. "
    "Glossaries let you fix how product names and technical terms are translated.",
    "Our support bot hands the conversation to a human agent when it is not confident or when the "
    "customer asks for a person. The agent sees the full chat history and the sources the bot used.",
    "Fine-tuning: upload at least 200 example conversations in JSONL format. Each line holds the "
    "messages of one conversation, with the assistant's reply last. Training takes about an hour.",
]

# A second batch (operations, architecture, API references, security notes, tutorials, transcripts),
# split on its own by position.
AIDOCS_MORE: list[str] = [
    "`temperature` (float, default 0.2): sampling temperature passed to the LLM. Set it to 0 for "
    "deterministic answers. `max_tokens` (int, default 256): the most tokens an answer may use. "
    "`top_p` is left at the server's default.",
    "`mode`: `extractive` quotes the best sentences of the sources and never calls the LLM; "
    "`generative` lets the LLM answer from a guarded prompt; `auto` generates and falls back to the "
    "extractive answer when the generated one is not grounded.",
    "The answerer retrieves chunks, screens them for injected instructions, scores every sentence as "
    "evidence and then either quotes the best sentences or asks the LLM. Each stage is timed, and the "
    "timings are returned with the answer.",
    "Troubleshooting: if the assistant answers in the wrong language, check the `answer_language` "
    "setting and the language of the question. Mixed-language documents can also pull the model "
    "towards another language.",
    "The prompt tells the model to answer only from the numbered sources, to cite each fact and to "
    "reply 'I don't know' when the sources are silent. Changing the wording requires a new prompt "
    "version, which also invalidates cached answers.",
    "Security note: documents may contain text such as 'ignore previous instructions' or requests "
    "addressed to an AI. The context guard marks such passages as quoted data, and the output check "
    "removes links that appear in no source.",
    "Quickstart: upload a PDF, wait until its status shows 'indexed', then ask a question in the chat "
    "box. The answer appears with numbered citations; click one to open the page it came from.",
    "Example conversation:\nUser: What is the notice period for cancelling?\nAssistant: The notice "
    "period is 30 days [1].\nUser: And for annual plans?\nAssistant: Annual plans can be cancelled "
    "at the end of the term [2].",
    "POST /v1/chat/completions accepts the OpenAI chat format. The `messages` list holds the "
    "conversation so far; the last user message is the question. The response's `content` is the "
    "answer and `citations` lists its sources.",
    "Latency: a cached answer returns in under 10 ms. An uncached extractive answer takes about 150 "
    "ms on a laptop; a generated one depends on the model, typically one to three seconds on a GPU.",
    "Evaluation harness: `ragqa eval answers` asks every question in a TSV file and scores the "
    "answers against the reference answers. It reports exact match, token F1, citation accuracy and "
    "the refusal rate.",
    "Streaming responses use server-sent events. Each event carries a piece of the answer; the final "
    "event carries the complete answer with its citations and guardrail events. Clients should "
    "render the final text, which may differ from the streamed pieces.",
    "Local models: the embedded llama.cpp backend runs a small instruction-tuned model on the CPU. "
    "It is good enough for demos and tests; for production quality, point the service at a larger "
    "model on a GPU server.",
    "The assistant can summarise long documents, but a summary covers only the chunks that were "
    "retrieved. For a whole-document summary, use the summary endpoint, which reads every chunk in "
    "order.",
    "Refusals are a feature: an assistant that says it doesn't know is better than one that invents "
    "an answer. Track the refusal rate over time; a sudden rise usually means documents are missing "
    "from the index.",
    "Guardrail events appear in the response and in the metrics. `context_injection` counts chunks "
    "that contained instructions, `output_unsourced_link` counts links removed from answers, and "
    "`refusal_floor` counts questions no chunk was close enough to answer.",
    "Custom instructions let an application add rules to the prompt, for example to answer "
    "formally or to keep answers under 50 words. They cannot override the built-in rules about "
    "sources and citations.",
    "Model comparison: the 7B model answered 81% of questions correctly, the 1.7B model 64%. The "
    "smaller model often ignored the citation format and sometimes repeated itself, which the "
    "repetition guard cut short.",
    "How chunking works: documents are split at headings and paragraphs into pieces of about 200 "
    "tokens with a small overlap. Tables are kept whole where possible, and every chunk remembers "
    "its page number.",
    "The reranker is a cross-encoder that reads the question and each candidate chunk together. It "
    "is slower than vector search, so it only rescores the top 20 results.",
    "Our chatbot was trained on support conversations from 2021 to 2023. It recommends help articles, "
    "collects order numbers and hands over to an agent for refunds. It does not have access to "
    "payment details.",
    "Deploying behind a proxy: set the forwarded headers so that rate limits apply per client, not "
    "per proxy. The widget needs the API's origin in the allowed origins list.",
    "Frequently asked: can the assistant browse the web? No. It only reads the documents in your "
    "collections, which keeps answers traceable to a source you control.",
    "Writing good documents for retrieval: use descriptive headings, keep one topic per section and "
    "spell out abbreviations once. The assistant finds answers more reliably when each paragraph can "
    "stand on its own.",
    "Changelog 3.1: the input guard now uses a learned classifier in addition to patterns. Questions "
    "it rejects return a 400 error with the code `guardrail_violation`. Added Portuguese and Polish "
    "to the supported answer languages.",
    "The language model generates text one token at a time, choosing each from a probability "
    "distribution. Temperature rescales that distribution: low values favour the most likely token, "
    "high values make rarer tokens more likely.",
    "Prompt injection is an attack in which text inside a document tries to give the model new "
    "instructions. Because the model reads retrieved documents, anyone who can add a document can "
    "attempt it. Defences include marking source text as data and checking outputs.",
    "Tool use: when a question needs a calculation, the assistant writes the expression, the "
    "calculator tool evaluates it and the result is inserted into the answer. Tool calls are logged "
    "with the conversation.",
    "Accessibility: the widget can be used with a keyboard alone, and answers are announced to "
    "screen readers as they finish. Citations are links with descriptive labels.",
    "Admin guide: to remove a document, delete it from the collection page. Its chunks leave the "
    "index immediately and cached answers that cited it are dropped at the next lookup.",
    "Data retention: chat transcripts are kept for 30 days and then deleted. Users can ask an "
    "administrator to delete their conversations earlier. Exported transcripts include the sources "
    "of every answer.",
    "Benchmarks are run on the cmu-qa-dev question set. The extractive mode reaches 0.63 sentence "
    "accuracy; the generative mode with a 7B model reaches 0.71 but costs about 40 times more per "
    "answer.",
    "Webhook notifications are sent when an ingestion job finishes. The payload holds the job id, the "
    "number of documents added and any failures. Retries follow an exponential backoff for up to an "
    "hour.",
    "The answer card shows the answer, its citations and a feedback button. Feedback is stored with "
    "the question, the answer and the prompt version, so that regressions can be traced to a "
    "change.",
    "Persona settings change the assistant's tone, not its knowledge. A friendly persona uses shorter "
    "sentences and first names; a formal one avoids contractions. Both answer from the same sources.",
    "Known issues: very long tables may be split across chunks, so an answer can miss a row. PDFs "
    "made of scanned images need OCR before upload; otherwise they index as empty documents.",
]

# Documentation that states what an assistant or model must or should do, in the third person:
# the benign look-alike of an obligation planted for the reader. Split by position on its own.
AIDOCS_MODAL: list[str] = [
    "The assistant must have read access to every collection it answers from. Grant it in the admin "
    "console under Permissions; without it, questions about that collection return no sources.",
    "A support bot should cite the article it answers from, so that agents can check it. Turn on "
    "citations in the bot's settings; they add a few tokens to each reply.",
    "The model needs to be loaded before the first request arrives, or that request waits for it. Set "
    "`preload: true` in the deployment file to load it at start-up.",
    "Embedding models are required to produce vectors of the size the index was created with. If you "
    "change the model, re-index the collection; mixing sizes is rejected.",
    "The chatbot has to stay within the token budget of its plan. When a conversation grows past it, "
    "the oldest turns are summarized and the summary replaces them.",
    "Any AI feature that handles personal data must be listed in the processing register. The privacy "
    "team reviews each entry before the feature ships.",
    "The reranker should run on the top 20 candidates only; reranking more adds latency and rarely "
    "changes the final top five.",
    "Whoever deploys the assistant is expected to set a rate limit per user. The default of 60 "
    "requests a minute suits most teams.",
    "The summarizer must keep numbers exactly as the source states them. It is evaluated on a test set "
    "of financial reports, where a changed figure counts as a failure.",
    "Agents are instructed to escalate to a human when the model's confidence is low. The threshold is "
    "set per queue by the team lead.",
    # held out from here
    "The assistant should refuse questions outside the workspace's documents. Refusals are logged so "
    "that missing content can be added.",
    "Models served on shared GPUs must declare their memory needs up front; the scheduler rejects a "
    "model that asks for more than its quota.",
    "The answer model needs to see the sources before the question in its prompt. That order gave the "
    "best grounding in our tests.",
    "Every chatbot deployed to customers has to pass the red-team checklist first. The checklist covers "
    "prompt injection, data leaks and unsafe advice.",
]
