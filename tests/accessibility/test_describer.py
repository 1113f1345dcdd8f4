"""Composed descriptions: wording rules, honesty about uncertainty, colours, odd images, objects and text."""

import re

import pytest
from PIL import Image

from accessibility.describer import ALT_LIMIT, Caption, Describer, Facts, TextRead
from accessibility.labels import Label
from accessibility.objects import counted, named_in, objects_phrase, plural, seen_sentence, spoken, tally
from accessibility.wording import about_percent, article, clean_text, hedge, join_words, spoken_date
from accessibility.wordnet import default_wordnet
from models.detectors.base import Detection, rescaled

CATS = [
    Label("n02123045", "tabby cat", 0.3),
    Label("n02123159", "tiger cat", 0.28),
    Label("n02124075", "Egyptian Mau", 0.25),
]


@pytest.fixture(scope="module")
def describer():
    return Describer(default_wordnet())


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", text) if s]


def solid(colour, size=(64, 48), mode="RGB"):
    return Image.new(mode, size, colour)


def seen(*found: tuple[str, float]) -> list[Detection]:
    return [Detection(label, score, (0.0, 0.0, 10.0, 10.0)) for label, score in found]


def test_cats_are_said_as_a_cat_with_hedge_and_colours(describer):
    picture = solid((255, 140, 0))
    picture.paste((255, 255, 255), (0, 0, 40, 48))
    said = describer.describe(picture, CATS, Facts(640, 480))
    assert said.alt == "Probably a cat, in white and orange"
    assert said.long.startswith("It is probably a cat, such as a tabby cat or a tiger cat.")
    assert "640 by 480 pixels" in said.long and "landscape" in said.long
    assert said.evidence["subject"]["name"] == "cat"
    assert [c["name"] for c in said.evidence["colours"]] == ["white", "orange"]


@pytest.mark.parametrize(
    ("probability", "opening", "claim"),
    [
        (0.95, "A tabby cat", "It is most likely a tabby cat."),
        (0.6, "Probably a tabby cat", "It is probably a tabby cat."),
        (0.3, "Possibly a tabby cat", "It is possibly a tabby cat."),
        (0.2, "Unidentified subject", "What it shows is unclear; the best guess, a tabby cat, is unlikely."),
    ],
)
def test_confidence_is_said_never_overstated(describer, probability, opening, claim):
    said = describer.describe(solid((200, 30, 30)), [Label("n02123045", "tabby cat", probability)], Facts(10, 10))
    assert said.alt.startswith(opening)
    assert said.long.startswith(claim)
    assert "percent" not in said.long and "classifier" not in said.long  # the numbers stay in the evidence
    assert said.evidence["labels"] == [{"id": "n02123045", "name": "tabby cat", "p": probability}]


def test_a_guess_too_weak_to_trust_is_not_named_in_alt(describer):
    # Below 25 % the main noun matched the human captions for 4–28 % of images (bench/description_quality.py)
    said = describer.describe(solid((200, 30, 30)), [Label("n04442312", "toaster", 0.05)], Facts(10, 10))
    assert "toaster" not in said.alt.lower() and said.alt.startswith("Unidentified subject")
    assert said.long.startswith("What it shows is unclear; the best guess, a toaster, is unlikely.")


@pytest.mark.parametrize(
    "source",
    [
        "IMG_2041.JPG",
        "photo of DSC0001.jpeg taken at /home/user/pics/holiday.png",
        'A "quoted" cat.\x00\x1b[31m Second sentence here.',
        "x" * 5000,
    ],
)
def test_wording_rules_hold_for_hostile_metadata(describer, source):
    facts = Facts(4000, 3000, "2009-03-12T14:05:00", "Canon\x07 PowerShot " + "A" * 200, source)
    said = describer.describe(solid((20, 90, 200)), CATS, facts)
    for text in (said.alt, said.long):
        assert not re.search(r"\.(jpe?g|png)\b", text, re.I), text
        assert "\x00" not in text and "\x1b" not in text and "\x07" not in text
    assert len(said.alt) <= ALT_LIMIT
    assert not re.match(r"(image|picture|photo|graphic) of", said.alt, re.I)
    quoted = bool(clean_text(source))  # a file name alone leaves nothing of the source to say
    assert len(sentences(said.long)) == 3 + quoted, said.long  # classifier, look, record (+ source)
    assert "[31m" not in said.alt and "[31m" not in said.long  # no remnant of a terminal colour code
    assert said.long.endswith("Taken on 12 March 2009 with a Canon PowerShot.")  # cut at a word, no source


def test_the_source_leads_the_alt_without_an_image_of_opening(describer):
    facts = Facts(640, 480, source_description="photo of DSC0001.jpeg taken at /home/user/pics/holiday.png")
    said = describer.describe(solid((20, 90, 200)), CATS, facts)
    assert said.alt == "Taken at, in blue"  # not "Photo of taken at, in blue": a screen reader says "image"
    assert said.long.startswith("Its source calls it photo of taken at.")  # the long quotes the source whole
    titled = describer.describe(None, CATS, Facts(source_description='"sunset" by Monet'))
    assert titled.alt == "'Sunset' by Monet" and "Its source calls it 'sunset' by Monet." in titled.long
    only_opening = describer.describe(None, CATS, Facts(source_description="An image of"))
    assert only_opening.alt == "Probably a cat"


def test_long_names_are_cut_to_fit_alt_and_the_subject_comes_first(describer):
    long_name = "very " * 40 + "long thing"
    said = describer.describe(solid((0, 128, 0)), [Label("n99999999", long_name, 0.9)], Facts(10, 10))
    assert len(said.alt) <= ALT_LIMIT and said.alt.startswith("A very very")


def test_caption_leads_the_long_description(describer):
    said = describer.describe(solid((255, 255, 255)), CATS, Facts(10, 10), Caption("a cat on a sofa", "tiny-blip"))
    assert said.long.startswith("A captioning model (tiny-blip) says: a cat on a sofa.")
    assert len(sentences(said.long)) == 3  # caption, classifier, look
    assert said.evidence["caption"] == {"text": "a cat on a sofa", "model": "tiny-blip"}


def test_odd_images(describer):
    one_pixel = describer.describe(solid((0, 0, 0), (1, 1)), [], Facts(1, 1))
    assert one_pixel.alt == "Unidentified subject, black and white"
    assert "only 1 by 1 pixels" in one_pixel.long and "very dark" in one_pixel.long

    black = describer.describe(solid((0, 0, 0), (800, 600)), [], Facts(800, 600))
    assert "perhaps taken at night" in black.long and black.evidence["light"] == "very dark"

    clear = describer.describe(solid((0, 0, 0, 0), (50, 50), "RGBA"), [], Facts(50, 50))
    assert clear.alt == "Unidentified subject, fully transparent" and "fully transparent" in clear.long

    cut_out = solid((0, 0, 0, 0), (60, 60), "RGBA")
    cut_out.paste((220, 20, 60, 255), (20, 20, 40, 40))
    said = describer.describe(cut_out, [], Facts(60, 60))
    assert said.alt == "Unidentified subject, cut-out, in red" and "cut-out" in said.long

    panorama = describer.describe(solid((135, 206, 235), (12000, 300)), [], Facts(12000, 300))
    assert "wide panorama" in panorama.long and "sky blue" in panorama.alt

    unreadable = describer.describe(None, [], Facts(300, 200))
    assert unreadable.alt == "Unidentified subject" and "could not be read" in unreadable.long
    assert not unreadable.evidence["pixels_read"]


def test_two_people_and_a_dog(describer):
    said = describer.describe(None, CATS, Facts(), objects=seen(("dog", 0.7), ("person", 0.9), ("person", 0.6)))
    assert said.alt == "Two people and a dog"
    assert said.long.startswith("It shows two people and a dog. As a whole, it is probably a cat, such as")
    assert said.evidence["said_objects"] == [
        {"name": "person", "count": 2, "score": 0.9, "unsure": 0},
        {"name": "dog", "count": 1, "score": 0.7, "unsure": 0},
    ]
    assert said.evidence["objects"][0] == {"label": "dog", "score": 0.7, "box": [0.0, 0.0, 10.0, 10.0]}


def test_unsure_and_crowded_detections(describer):
    crowd = seen(*[("person", 0.8)] * 9, ("frisbee", 0.4), ("kite", 0.35), ("dog", 0.2), ("car", 0.49))
    said = describer.describe(None, [Label("n04442312", "toaster", 0.05)], Facts(), objects=crowd)
    assert said.alt == "Many people, possibly also a car or a frisbee"  # the best guesses fill three places
    assert said.long.startswith("It shows many people, possibly also a car, a frisbee or a kite. A picture")
    assert "dog" not in said.long and "toaster" not in said.long  # under 0.3; a guess beside what is seen
    assert objects_phrase(tally(seen(("person", 0.45), ("cat", 0.3)))) == "possibly a person or a cat"


def test_a_probable_subject_leads_over_unsure_detections(describer):
    """ "Possibly a bird" from the detector gives way to the classifier's "probably a palace"; a sure detection,
    or a classifier no surer than the detector, keeps the objects first."""
    palace = [Label("n03877845", "palace", 0.56)]
    said = describer.describe(None, palace, Facts(), objects=seen(("bird", 0.47), ("bird", 0.4)))
    assert said.alt == "Probably a palace" and said.evidence["alt_lead"] == "subject"
    assert "It shows possibly a bird." in said.long  # the detector's guess stays in the long description
    sure = describer.describe(None, palace, Facts(), objects=seen(("bird", 0.6)))
    assert sure.alt == "A bird" and sure.evidence["alt_lead"] == "objects"
    unsure = describer.describe(None, [Label("n03877845", "palace", 0.3)], Facts(), objects=seen(("bird", 0.47)))
    assert unsure.alt == "Possibly a bird" and unsure.evidence["alt_lead"] == "objects"
    person = describer.describe(None, palace, Facts(), objects=seen(("person", 0.4)))
    assert person.alt == "Possibly a person" and person.evidence["alt_lead"] == "objects"  # people first
    nothing = describer.describe(None, [Label("n03877845", "palace", 0.1)], Facts())
    assert nothing.alt == "Unidentified subject" and nothing.evidence["alt_lead"] is None


def test_a_yak_stamp_whose_source_says_a_yak(describer):
    facts = Facts(300, 200, source_description="A yak.")
    maybe = describer.describe(solid((200, 160, 90)), [], facts, objects=seen(("dog", 0.4)))
    assert maybe.alt.startswith("A yak, in ")
    assert "Its source describes it as: A yak. The models also see possibly a dog, which the source does not " in (
        maybe.long
    )
    sure = describer.describe(None, [], facts, objects=seen(("dog", 0.9)))
    assert sure.alt == "A yak; the models see a dog"  # a sure guess that disagrees is said, not kept silent
    assert "The models also see a dog, which the source does not mention." in sure.long
    stamp = solid((0, 0, 0, 0), (60, 60), "RGBA")
    stamp.paste((200, 160, 90, 255), (10, 10, 50, 50))
    drawn = describer.describe(stamp, [], facts, objects=seen(("dog", 0.9)))
    assert drawn.alt == "A yak, cut-out, in tan"  # on a cut-out the detector's guess stays in the long text
    assert "The models also see a dog, which the source does not mention." in drawn.long
    named = describer.describe(None, [], Facts(source_description="Dogs! At dusk"), objects=seen(("dog", 0.9)))
    assert "models" not in named.alt  # the source already names it
    assert "The models also see a dog." in named.long  # "Dogs!" names the dog


def test_a_tagged_photo_says_who_and_what_the_models_see(describer):
    """A source of tags names nobody as a person: the alt adds the people (and things) the models are sure of,
    never the unsure ones, and leaves out what the source already names."""
    tags = Facts(800, 533, source_description="Tags: Grand Canyon, Jesper.")
    said = describer.describe(None, [], tags, objects=seen(("person", 0.6), ("person", 0.6), ("cup", 0.35)))
    assert said.alt == "Tags: Grand Canyon, Jesper; the models see two people"
    assert "The models also see two people, possibly also a cup, which the source does not mention." in said.long
    anne = Facts(source_description="Tags: Grand Canyon, Anne Helene, Jesper.")  # WordNet knows Anne is a person
    assert describer.describe(None, [], anne, objects=seen(("person", 0.6))).alt == anne.source_description[:-1]
    girlfriend = Facts(source_description="May I introduce Anne Helene, my girlfriend.")
    said = describer.describe(None, [], girlfriend, objects=seen(("person", 0.9), ("dog", 0.8)))
    assert said.alt == "May I introduce Anne Helene, my girlfriend; the models see a dog"  # a girlfriend is a person
    scanned = Facts(source_description="I scanned this in, so I don't know when it was taken.")
    said = describer.describe(None, [], scanned, objects=seen(("person", 0.6)))  # "don't" names no "don"
    assert said.alt == "I scanned this in, so I don't know when it was taken; the models see a person"
    for possessive in ("My brother's car.", "The boys' car.", "My brother’s car."):
        said = describer.describe(None, [], Facts(source_description=possessive), objects=seen(("person", 0.6)))
        assert said.alt == possessive[:-1]  # a brother is a person: nothing to add


@pytest.mark.parametrize(
    ("source", "label", "names_it"),
    [
        ("Two dogs; a cat", "dog", True),
        ("An old couch", "couch", True),  # the detector's word for a sofa
        ("CELL PHONES for sale", "cell phone", True),
        ("A portrait with scissors", "scissors", True),
        ("The light of dawn", "traffic light", False),  # a last word alone is not the thing
        ("A fruit bat", "baseball bat", False),
        ("hotdogs", "dog", False),
    ],
)
def test_what_the_source_names(source, label, names_it):
    assert named_in(spoken(label), source) == names_it


def test_a_sign_that_reads_stop(describer):
    said = describer.describe(
        solid((200, 20, 20)), [], Facts(), objects=seen(("stop sign", 0.9)), text=[TextRead("STOP", 0.95)]
    )
    assert said.alt == 'A stop sign, with the words "STOP", in red'
    assert 'Text in the picture reads: "STOP".' in said.long
    assert said.evidence["text"] == [{"text": "STOP", "confidence": 0.95}]
    mixed = describer.describe(None, [], Facts(), text=[TextRead("STOP", 0.95), TextRead("AHEAD", 0.5)])
    assert mixed.alt == 'Unidentified subject, with the words "STOP"'  # only what was read surely
    assert 'Text in the picture reads: "STOP". Some more text in it is unclear.' in mixed.long  # not quoted
    assert "AHEAD" not in mixed.long and mixed.evidence["text"][1] == {"text": "AHEAD", "confidence": 0.5}
    unsure = describer.describe(None, [], Facts(), text=[TextRead("STOP", 0.7), TextRead("AHEAD", 0.5)])
    assert unsure.alt == "Unidentified subject"
    assert 'Text in the picture seems to read: "STOP AHEAD".' in unsure.long


@pytest.mark.parametrize(
    ("label", "count", "said"),
    [
        ("person", 1, "a person"),
        ("person", 3, "three people"),
        ("bus", 2, "two buses"),
        ("knife", 4, "four knives"),
        ("cell phone", 2, "two mobile phones"),
        ("sheep", 6, "six sheep"),
        ("sheep", 7, "many sheep"),
        ("scissors", 1, "a pair of scissors"),
        ("scissors", 2, "two pairs of scissors"),
        ("skis", 2, "two pairs of skis"),
        ("mouse", 2, "two computer mice"),
        ("umbrella", 1, "an umbrella"),
        ("wine glass", 5, "five wine glasses"),
        ("toothbrush", 2, "two toothbrushes"),
    ],
)
def test_plurals_and_articles(label, count, said):
    assert objects_phrase(tally(seen(*[(label, 0.9)] * count))) == said
    assert counted(tally(seen(*[(label, 0.9)] * count))[0]) == said
    assert plural("person") == "people"


@pytest.mark.parametrize(
    ("found", "said"),
    [
        ((("person", 0.9), ("person", 0.4)), "a person, possibly more"),
        ((("person", 0.9),) * 5 + (("person", 0.4),), "five people, possibly more"),
        ((("person", 0.9), ("dog", 0.9), ("person", 0.4)), "a person and a dog, possibly more people"),
        (
            (("person", 0.9),) * 2 + (("person", 0.35),) * 3 + (("kite", 0.4),),
            "two people, possibly more people or a kite",
        ),
        ((("person", 0.9), ("kite", 0.4)), "a person, possibly also a kite"),
        ((("person", 0.4), ("person", 0.3)), "possibly people"),
        ((("person", 0.4), ("person", 0.2)), "possibly a person"),  # below MAYBE is not a detection at all
        ((("person", 0.9),) * 7 + (("person", 0.4),), "many people"),
        ((("person", 0.9), ("dog", 0.9), ("kite", 0.9), ("person", 0.4)), "a person, a dog and a kite"),  # no room
        ((("dog", 0.9), ("dog", 0.4)), "a dog"),  # another class's unsure box is often the same dog boxed twice
        ((("dog", 0.4), ("dog", 0.3)), "possibly a dog"),
    ],
)
def test_unsure_people_beside_a_count_are_offered_as_more_people(found, said):
    assert objects_phrase(tally(seen(*found))) == said


def test_the_search_sentence_and_the_models_view_leave_unsure_people_out(describer):
    found = seen(("person", 0.9), ("person", 0.4), ("person", 0.3))
    assert seen_sentence(found) == "a photo of a person"  # the sentence the search weights were fitted on
    assert objects_phrase(tally(found), more=False) == "a person"
    tagged = describer.describe(solid((90, 120, 60)), [], Facts(64, 48, source_description="Jesper"), objects=found)
    assert tagged.alt.startswith("Jesper; the models see a person,")
    assert "The models also see a person, possibly more, which" in tagged.long


def test_night_and_day_guesses_use_the_camera_clock(describer):
    dark = solid((40, 40, 50))
    late = describer.describe(dark, [], Facts(64, 48, "2020-01-01T23:30:00"))
    assert "taken at night by the camera clock" in late.long
    assert "night" not in describer.describe(dark, [], Facts(64, 48, "2020-01-01T13:30:00")).long
    bright = solid((230, 230, 240))
    assert "in daylight" in describer.describe(bright, [], Facts(64, 48, "2020-06-01T12:00:00")).long


def test_wording_helpers():
    assert [article(w) for w in ("cat", "owl", "hourglass", "unicycle", "European robin", "umbrella")] == [
        "a cat",
        "an owl",
        "an hourglass",
        "a unicycle",
        "a European robin",
        "an umbrella",
    ]
    assert join_words(["red"]) == "red" and join_words(["red", "blue", "green"]) == "red, blue and green"
    assert hedge(0.9) == "" and hedge(0.6) == "probably" and hedge(0.3) == "possibly" and hedge(0.2) is None
    assert about_percent(0.001) == "less than 5 percent" and about_percent(0.999) == "over 95 percent"
    assert spoken_date("2009-03-12T14:05:00") == "12 March 2009" and spoken_date("not a date") is None
    assert clean_text("  Gray-level 'camera' image.  ") == "Gray-level 'camera' image"


def test_load_reduced_keeps_alpha_turns_upright_and_shrinks():
    from accessibility.describer import READ_SIDE, load_reduced
    from tests.fixtures.images import encode, jpeg_with_exif

    cut_out = solid((0, 0, 0, 0), (2000, 1000), "RGBA")
    small = load_reduced(encode(cut_out, "PNG"))
    assert small.mode == "RGBA" and max(small.size) == READ_SIDE
    rotated = load_reduced(jpeg_with_exif(orientation=6))  # stored landscape, shown portrait
    assert rotated.height > rotated.width


def test_a_source_naming_a_kind_of_person_already_mentions_the_person(describer):
    person = Detection("person", 0.9, (0, 0, 5, 9))
    said = describer.describe(
        solid((90, 90, 90)), [], Facts(10, 10, source_description="The astronaut Eileen Collins"), objects=[person]
    )
    assert "The models also see a person." in said.long and "does not mention" not in said.long
    other = describer.describe(solid((90, 90, 90)), [], Facts(10, 10, source_description="A yak"), objects=[person])
    assert "a person, which the source does not mention" in other.long
    white = describer.describe(
        solid((90, 90, 90)), [], Facts(10, 10, source_description="A white cat on a sofa"), objects=[person]
    )
    assert "a person, which the source does not mention" in white.long  # "white" here is a colour, not a person


def test_the_seen_sentence_uses_the_models_own_scores_and_descriptions_the_rescaled_ones(describer):
    scale = {"model": [0.0, 0.4, 0.6, 1.0], "said": [0.0, 0.3, 0.5, 1.0]}  # NanoDet's card
    found = rescaled(seen(("dog", 0.55), ("cat", 0.35)), scale)
    assert [(d.score, d.raw) for d in found] == [(0.45, 0.55), (0.2625, 0.35)]
    assert [d.model_score for d in found] == [0.55, 0.35]
    # the search's sentence: the dog said plainly and the cat as possible, as the model scored them
    assert seen_sentence(found) == "a photo of a dog, possibly also a cat"
    # what is said to people: the dog only possibly, the cat not at all
    assert [(s.name, s.count) for s in tally(found)] == [("dog", 0)]
    said = describer.describe(solid((90, 140, 60)), [], Facts(width=64, height=48), objects=found)
    assert "cat" not in said.alt.lower() and "dog" in said.alt.lower()
    assert rescaled(found[:1], None) == found[:1]


def test_the_seen_sentence_is_empty_when_nothing_was_seen():
    assert seen_sentence(seen(("person", 0.9), ("person", 0.8), ("dog", 0.7))) == "a photo of two people and a dog"
    assert seen_sentence(seen(("dog", 0.7)), ["STOP", ""]) == 'a photo of a dog with the words "STOP"'
    assert seen_sentence([], ["STOP"]) == 'a photo with the words "STOP"'
    assert seen_sentence(seen(("dog", 0.2)), [""]) == ""  # under the 0.3 floor and no text: nothing to say
    assert seen_sentence([]) == ""
