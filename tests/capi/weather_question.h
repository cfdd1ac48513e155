/* The scripted weather model's question through the C ABI: a conversation
 * that declares get_weather with the given city schema (a JSON schema
 * object's text) and asks for Paris. Shared by the C tool and structured
 * output tests (the caller destroys it). */
#ifndef OSSRT_TESTS_WEATHER_QUESTION_H
#define OSSRT_TESTS_WEATHER_QUESTION_H

#include <stdio.h>
#include <string.h>

#include "expect.h"
#include "ossrt.h"

static ossrt_conversation* weather_question_with_city(const char* city_schema) {
  ossrt_conversation* conversation = NULL;
  const char* question = "What is the weather in Paris?";
  char tools[512];
  snprintf(tools, sizeof tools,
           "[{\"name\":\"get_weather\",\"description\":\"Weather for a city.\",\"parameters\":{\"type\":\"object\","
           "\"properties\":{\"city\":%s},\"required\":[\"city\"]}}]",
           city_schema);
  EXPECT(ossrt_conversation_create(&conversation) == OSSRT_STATUS_OK);
  EXPECT(ossrt_conversation_set_reasoning_effort(conversation, OSSRT_EFFORT_LOW) == OSSRT_STATUS_OK);
  EXPECT(ossrt_conversation_add_developer(conversation, NULL, tools) == OSSRT_STATUS_OK);
  EXPECT(ossrt_conversation_add_user(conversation, question, strlen(question)) == OSSRT_STATUS_OK);
  return conversation;
}

#endif
