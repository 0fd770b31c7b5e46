"""Chat prompts from the tokenizer's template: SmolLM2's ChatML template, one BOS when template and
tokenizer both write it, and a clear error for a model without a template or for malformed messages."""
import pytest

import lm
from lm.distribution.chat import ChatTemplateError, chat_prompt
from smollm2 import smollm2

MESSAGES = [{"role": "system", "content": "Answer yes or no."}, {"role": "user", "content": "Is 2+2 four?"}]


@pytest.fixture(scope="module")
def builtin():
    return lm.load("builtin")


def test_smollm2_chat_prompt_follows_its_template(tmp_path_factory):
    llm = smollm2(tmp_path_factory)
    text = llm.chat(MESSAGES)
    assert text == ("<|im_start|>system\nAnswer yes or no.<|im_end|>\n"
                    "<|im_start|>user\nIs 2+2 four?<|im_end|>\n<|im_start|>assistant\n")
    assert not llm.chat(MESSAGES, add_generation_prompt=False).endswith("<|im_start|>assistant\n")
    ids = llm.prompt_ids(text)
    specials = [llm.vocabulary.tokens[i].text for i in ids if llm.vocabulary.tokens[i].is_special]
    assert specials == ["<|im_start|>", "<|im_end|>", "<|im_start|>", "<|im_end|>", "<|im_start|>"]  # markers, not spelled out


def test_generate_takes_chat_messages(tmp_path_factory):
    llm = smollm2(tmp_path_factory)
    result = lm.generate(llm, MESSAGES, regex="(Yes|No)[.!]?", particles=2, max_tokens=4, rng=0)
    assert result.samples and all(s.value.rstrip(".!") in ("Yes", "No") for s in result.samples)
    assert llm.generate(MESSAGES, regex="(Yes|No)", particles=1, max_tokens=3, rng=0).text in ("Yes", "No")


def test_a_model_without_a_template_says_to_pass_a_plain_prompt(builtin):
    with pytest.raises(ChatTemplateError, match="no chat template.*pass a plain prompt"):
        builtin.chat(MESSAGES)
    with pytest.raises(ChatTemplateError, match="pass a plain prompt"):
        lm.generate(builtin, MESSAGES, regex="yes|no")


@pytest.mark.parametrize("messages, problem", [
    ([{"role": "user"}], "chat message 0: 'content' must be a string"),
    ([{"role": "user", "content": "hi"}, "hello"], "chat message 1: expected a dict"),
    ([], "the list is empty"),
    ("hello", "must be a list"),
])
def test_malformed_messages_are_named(builtin, messages, problem):
    with pytest.raises(ChatTemplateError, match=problem):
        chat_prompt(builtin.tokenizer, messages)


def test_one_bos_when_template_and_tokenizer_both_write_it():
    from tokenizers import processors
    from transformers import AutoTokenizer

    from lm.loading.model_dir import BUILTIN_MODELS

    tokenizer = AutoTokenizer.from_pretrained(BUILTIN_MODELS["builtin"])
    bos, bos_id = tokenizer.bos_token, tokenizer.bos_token_id
    tokenizer.chat_template = ("{{ bos_token }}{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                               "{% if add_generation_prompt %}assistant:{% endif %}")
    assert chat_prompt(tokenizer, MESSAGES).startswith(bos)          # the tokenizer adds no BOS: the template's stays
    tokenizer.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", special_tokens=[(bos, bos_id)])           # now encoding adds BOS too
    text = chat_prompt(tokenizer, MESSAGES)
    assert not text.startswith(bos) and text.endswith("assistant:")
    ids = tokenizer.encode(text)
    assert ids[0] == bos_id and ids.count(bos_id) == 1


def test_a_template_that_refuses_the_messages_is_a_chat_error(builtin):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(builtin.path)
    tokenizer.chat_template = "{% if messages[0]['role'] != 'user' %}{{ raise_exception('first must be user') }}{% endif %}x"
    with pytest.raises(ChatTemplateError, match="refused the messages.*first must be user"):
        chat_prompt(tokenizer, MESSAGES)
