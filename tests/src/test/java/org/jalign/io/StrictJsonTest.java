package org.jalign.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonParseException;
import org.junit.jupiter.api.Test;

class StrictJsonTest {
    @Test
    void parsesStandardJson() {
        JsonElement e = StrictJson.parse(" {\"a\": [1, 2.5, -3e2, true, null, \"x\\u00e9\"], \"b\": {}} \n");
        assertEquals(6, e.getAsJsonObject().getAsJsonArray("a").size());
        assertEquals("xé", e.getAsJsonObject().getAsJsonArray("a").get(5).getAsString());
    }

    @Test
    void rejectsWhatLenientParsersAccept() {
        for (String bad : new String[] {"{a: 1}", "{'a': 1}", "{\"a\": 1,}", "[1, 2,]", "{\"a\": NaN}", "{\"a\": Infinity}",
            "// c\n{}", "{\"a\": 1} {\"b\": 2}", "{\"a\": 1} x", "", "{\"a\": 1, \"a\": 2}", "{\"a\": \"tab\there\"}",
            "[".repeat(100) + "]".repeat(100), "{\"a\" 1}", "01"}) {
            assertThrows(JsonParseException.class, () -> StrictJson.parse(bad), bad);
        }
    }

    @Test
    void duplicateKeyMessageNamesTheKey() {
        JsonParseException e = assertThrows(JsonParseException.class, () -> StrictJson.parse("{\"x\": {\"k\": 1, \"k\": 2}}"));
        assertTrue(e.getMessage().contains("\"k\""), e.getMessage());
    }

    @Test
    void integerDetection() {
        assertTrue(StrictJson.isInteger(StrictJson.parse("12")));
        assertTrue(StrictJson.isInteger(StrictJson.parse("-7")));
        assertTrue(StrictJson.isInteger(StrictJson.parse("123456789012345678901234567890")));
        assertFalse(StrictJson.isInteger(StrictJson.parse("1.0")));
        assertFalse(StrictJson.isInteger(StrictJson.parse("1e3")));
        assertFalse(StrictJson.isInteger(StrictJson.parse("\"1\"")));
        assertFalse(StrictJson.isInteger(StrictJson.parse("true")));
        assertEquals("number", StrictJson.typeName(StrictJson.parse("1")));
        assertEquals("null", StrictJson.typeName(StrictJson.parse("null")));
    }
}
